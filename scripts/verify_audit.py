#!/usr/bin/env python3
"""Verify a Veil audit log with nothing but the audit public key (independent of Veil's Swift code).

Usage:
    python3 scripts/verify_audit.py audit.log audit.pub [--checkpoint checkpoint.json]

audit.pub is the key file Veil writes: one line of standard base64 holding the 32-byte Ed25519 public key.
The format is described in docs/audit.md. For each line (a JSON object {"body", "hash", "sig"}):
    hash == BLAKE2b-256(previous hash || UTF-8 bytes of body), previous hash of the first record = 32 zero bytes
    sig  == Ed25519 detached signature of the 32 hash bytes
    body is a JSON object whose seq is 1, 2, 3, ... in order
With --checkpoint, the checkpoint's signature over
    "veil-audit-checkpoint\n" + str(seq) + "\n" + hash
must verify, the log must reach its seq, and the record at that seq must have its hash.

Every budget.spend record's cumulative_epsilon is replayed: the mechanisms of the dataset's spends so
far (docs/privacy.md) are composed with Google's dp_accounting, by the accountant the record names
(its "accountant" object; a record without one means RDP), and converted to epsilon at the record's
delta; a record whose cumulative_epsilon differs by more than a relative 1e-6 fails. So a log
re-signed with one spend left out fails here too, not only in `veil audit verify`.
  RDP: dp_accounting's RdpAccountant at its default orders. pure_epsilon and discrete_laplace use the
  randomised-response RDP bound (the tight bound for any epsilon-DP mechanism, capped by epsilon and
  alpha*epsilon^2/2), discrete_gaussian the Gaussian curve of sigma/sensitivity, thresholded ones their
  base's curve with their delta taken from the target delta, a composition the sum of its parts' curves.
  PLD: dp_accounting's privacy loss distributions with the recorded parameters, composed in spend
  order with tail_mass_truncation; gaussian records (possibly discrete Gaussian noise) by their RDP
  curve, combined with the PLD by basic composition at the best of Veil's fixed splits of delta; the
  smaller of that and the RDP of everything; and, when every release is pure epsilon-DP, the smaller of
  that and the sum of their epsilons (docs/privacy.md, "The PLD accountant"). A composition (a
  training run with its private evaluation) is composed part by part, as if each had been spent alone.

Every private model's model.train record is checked against the budget.spend that paid for it (the
model <-> spend link `veil audit verify` checks, docs/audit.md): its spend_id names a budget.spend
recorded before it, by the same actor, not named by another model.train record, whose mechanism is the
run's — the subsampled Gaussian of its sampling_rate, noise_multiplier and steps, composed with its
private evaluation's discrete Gaussian (sigma = evaluation_noise_sigma when the record states it), or
for runs from before private evaluation that subsampled Gaussian alone. A non-private run must name no
spend. A private record without spend_id (written before Veil recorded the link) is counted, not failed.

Exit status 0 when everything verifies, 1 on the first failure (named by line and seq), 2 on bad usage.
Needs PyNaCl and dp-accounting (pip install pynacl dp-accounting).
"""

import base64
import binascii
import json
import math
import sys

try:
    from nacl.encoding import RawEncoder
    from nacl.exceptions import BadSignatureError
    from nacl.hash import blake2b
    from nacl.signing import VerifyKey
    import numpy as np
    from dp_accounting import dp_event
    from dp_accounting.pld import common as pld_common
    from dp_accounting.pld import privacy_loss_distribution as pld
    from dp_accounting.rdp import rdp_privacy_accountant as rdp
except ImportError:
    sys.stderr.write("verify_audit.py needs PyNaCl and dp-accounting: python3 -m pip install pynacl dp-accounting\n")
    sys.exit(2)

EPSILON_TOLERANCE = 1e-6
# The shares of delta the PLD part gets when gaussian records sit beside it (PLDAccountant.splits).
PLD_SPLITS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 0.99, 0.997, 0.999]
PURE_KINDS = ("laplace", "pure_epsilon", "discrete_laplace")


class Failure(Exception):
    def __init__(self, line, seq, reason):
        super().__init__(f"line {line} (seq {seq}): {reason}")


def load_public_key(path):
    with open(path, "rb") as handle:
        raw = base64.b64decode(handle.read().strip(), validate=True)
    if len(raw) != 32:
        raise ValueError(f"{path} holds {len(raw)} bytes, expected a 32-byte Ed25519 public key")
    return VerifyKey(raw)


def verify_signature(key, signature, message):
    try:
        key.verify(message, signature)
        return True
    except BadSignatureError:
        return False


def verify_checkpoint_signature(key, checkpoint):
    message = f"veil-audit-checkpoint\n{checkpoint['seq']}\n{checkpoint['hash']}".encode("utf-8")
    return verify_signature(key, base64.b64decode(checkpoint["sig"], validate=True), message)


def _pure_epsilon_rdp(epsilon, orders):
    """The randomised-response RDP curve of an epsilon-DP release, capped as docs/privacy.md says."""
    curve = []
    for alpha in orders:
        numerator = np.logaddexp(alpha * epsilon, (1 - alpha) * epsilon)
        denominator = epsilon + math.log1p(math.exp(-epsilon))
        curve.append(min((numerator - denominator) / (alpha - 1), epsilon, alpha * epsilon * epsilon / 2))
    return np.array(curve)


def _mechanism_rdp(mechanism, orders):
    """(RDP curve at `orders`, additive delta) of one mechanism in Veil's JSON form."""
    kind = mechanism.get("mechanism")
    if kind == "composition":
        curves = [_mechanism_rdp(part, orders) for part in mechanism["parts"]]
        return sum(curve for curve, _ in curves), sum(extra for _, extra in curves)
    if kind == "thresholded":
        curve, extra = _mechanism_rdp(mechanism["base"], orders)
        return curve, extra + float(mechanism["delta"])
    if kind == "pure_epsilon":
        return _pure_epsilon_rdp(float(mechanism["epsilon"]), orders), 0.0
    if kind == "discrete_laplace":
        epsilon = mechanism["sensitivity"] / mechanism["scale"]
        return mechanism["count"] * _pure_epsilon_rdp(epsilon, orders), 0.0
    if kind == "discrete_gaussian":
        multiplier = mechanism["sigma"] / mechanism["sensitivity"]
        event = dp_event.SelfComposedDpEvent(dp_event.GaussianDpEvent(multiplier), mechanism["count"])
    elif kind == "gaussian":
        event = dp_event.SelfComposedDpEvent(dp_event.GaussianDpEvent(mechanism["noise_multiplier"]), mechanism["count"])
    elif kind == "subsampled_gaussian":
        inner = dp_event.PoissonSampledDpEvent(mechanism["sampling_rate"], dp_event.GaussianDpEvent(mechanism["noise_multiplier"]))
        event = dp_event.SelfComposedDpEvent(inner, mechanism["steps"])
    elif kind == "laplace":
        # dp_accounting's Laplace parameter is scale / sensitivity = 1 / epsilon.
        event = dp_event.SelfComposedDpEvent(dp_event.LaplaceDpEvent(1 / mechanism["epsilon"]), mechanism["count"])
    else:
        raise ValueError(f"unknown mechanism {kind!r}")
    accountant = rdp.RdpAccountant(orders)
    accountant.compose(event)
    return np.array(accountant._rdp), 0.0  # the composed curve (dp_accounting keeps no public getter)


def _rdp_epsilon(mechanisms, delta):
    """Epsilon at `delta` of `mechanisms` composed with dp_accounting's RDP accountant (default orders)."""
    orders = rdp.DEFAULT_RDP_ORDERS
    total = np.zeros(len(orders))
    additive = 0.0
    for mechanism in mechanisms:
        curve, extra = _mechanism_rdp(mechanism, orders)
        total = total + curve
        additive += extra
    if additive >= delta:
        return math.inf
    epsilon, _ = rdp.compute_epsilon(orders, total, delta - additive)
    return float(epsilon)


def pld_distribution(mechanism, interval, log_mass_truncation_bound=-50):
    """dp_accounting's privacy loss distribution of one Veil mechanism (not thresholded, not gaussian),
    built as its PLDAccountant builds the matching DpEvent."""
    kind = mechanism["mechanism"]
    if kind == "subsampled_gaussian":
        sigma, q, steps = mechanism["noise_multiplier"], mechanism["sampling_rate"], mechanism["steps"]
        if q == 1:  # steps Gaussian releases are one with multiplier sigma / sqrt(steps)
            return pld.from_gaussian_mechanism(
                sigma / math.sqrt(steps), value_discretization_interval=interval,
                log_mass_truncation_bound=log_mass_truncation_bound)
        return pld.from_gaussian_mechanism(
            sigma, value_discretization_interval=interval, sampling_prob=q,
            log_mass_truncation_bound=log_mass_truncation_bound).self_compose(steps)
    if kind == "laplace":
        return pld.from_laplace_mechanism(1 / mechanism["epsilon"], value_discretization_interval=interval).self_compose(mechanism["count"])
    if kind == "pure_epsilon":
        return pld.from_privacy_parameters(
            pld_common.DifferentialPrivacyParameters(mechanism["epsilon"], 0), value_discretization_interval=interval)
    if kind == "discrete_laplace":
        return pld.from_discrete_laplace_mechanism(
            1 / mechanism["scale"], sensitivity=mechanism["sensitivity"],
            value_discretization_interval=interval).self_compose(mechanism["count"])
    if kind == "discrete_gaussian":
        return pld.from_discrete_gaussian_mechanism(
            mechanism["sigma"], sensitivity=mechanism["sensitivity"],
            value_discretization_interval=interval).self_compose(mechanism["count"])
    raise ValueError(f"unknown mechanism {kind!r}")


class PLDReplay:
    """Veil's PLD accountant over one dataset's spends (see the module docstring), extended one spend at
    a time in spend order, as Veil's ledger composes them."""

    def __init__(self, parameters):
        self.parameters = parameters
        self.total = pld.identity(value_discretization_interval=parameters["value_discretization_interval"])
        self.mechanisms, self.gaussians = [], []
        self.has_distribution, self.additive, self.pure = False, 0.0, 0.0

    def add(self, mechanism):
        self.mechanisms.append(mechanism)
        for part in mechanism["parts"] if mechanism["mechanism"] == "composition" else [mechanism]:
            self._add_part(part)

    def _add_part(self, mechanism):
        while mechanism["mechanism"] == "thresholded":
            self.additive += float(mechanism["delta"])
            mechanism = mechanism["base"]
        kind = mechanism["mechanism"]
        if kind == "gaussian":
            self.gaussians.append(mechanism)
        else:
            distribution = pld_distribution(
                mechanism, self.parameters["value_discretization_interval"], self.parameters["log_mass_truncation_bound"])
            self.total = self.total.compose(distribution, tail_mass_truncation=self.parameters["tail_mass_truncation"])
            self.has_distribution = True
        if self.pure is not None and kind in PURE_KINDS:
            self.pure += {"laplace": lambda m: m["epsilon"] * m["count"], "pure_epsilon": lambda m: m["epsilon"],
                          "discrete_laplace": lambda m: m["sensitivity"] / m["scale"] * m["count"]}[kind](mechanism)
        else:
            self.pure = None

    def epsilon(self, delta):
        if not (delta > self.additive or (self.additive == 0 and delta == 0)):
            return math.inf
        available = delta - self.additive
        if self.gaussians and self.has_distribution:
            composed = min(self.total.get_epsilon_for_delta(available * f) + _rdp_epsilon(self.gaussians, available * (1 - f))
                           for f in PLD_SPLITS)
        elif self.gaussians:
            composed = _rdp_epsilon(self.gaussians, available)
        else:
            composed = self.total.get_epsilon_for_delta(available)
        bound = min(composed, _rdp_epsilon(self.mechanisms, delta))
        return bound if self.pure is None else min(bound, self.pure)


def replay_epsilon(mechanisms, delta, accountant=None, replays=None):
    """Cumulative epsilon at `delta` of `mechanisms` by the accountant a record names (None: RDP).
    `replays` (a dict) keeps each dataset's PLD composition between calls, keyed by the first
    mechanism's identity and the accountant, so a log is replayed in one pass."""
    if accountant is None or accountant.get("accountant") == "rdp":
        return _rdp_epsilon(mechanisms, delta)
    if accountant.get("accountant") != "pld":
        raise ValueError(f"unknown accountant {accountant.get('accountant')!r}")
    key = (id(mechanisms), json.dumps(accountant, sort_keys=True))
    replay = (replays if replays is not None else {}).get(key)
    if replay is None or replay.mechanisms != mechanisms[:len(replay.mechanisms)]:
        replay = PLDReplay(accountant)
    for mechanism in mechanisms[len(replay.mechanisms):]:
        replay.add(mechanism)
    if replays is not None:
        replays[key] = replay
    return replay.epsilon(delta)


def _same_numbers(left, right):
    """Equal JSON values, integers and floats compared as numbers (a log may write 3 or 3.0)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return sorted(left) == sorted(right) and all(_same_numbers(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same_numbers(a, b) for a, b in zip(left, right))
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return float(left) == float(right)
    return left == right


class ModelSpendLinks:
    """The model <-> spend link of each model.train record (see the module docstring)."""

    def __init__(self):
        self.spends = {}  # spend_id -> (actor, mechanism)
        self.claimed = {}  # spend_id -> seq of the model.train record naming it
        self.linked = 0
        self.unlinked = 0

    def spend(self, body):
        spend_id = body["details"].get("spend_id")
        if isinstance(spend_id, int) and not isinstance(spend_id, bool):
            self.spends[spend_id] = (body["actor"], body["details"].get("mechanism"))

    def train(self, body):
        """None when the record is linked (or cannot be checked), else the reason it fails."""
        details = body["details"]
        private = details.get("private") is not False
        if "spend_id" not in details:
            if private:
                self.unlinked += 1
            return None
        if not private:
            return "a non-private model.train record names spend_id, but a non-private run spends nothing"
        spend_id = details["spend_id"]
        if not isinstance(spend_id, int) or isinstance(spend_id, bool):
            return "spend_id of a model.train record must be an integer"
        if spend_id not in self.spends:
            return f"model.train names spend_id {spend_id}, but no budget.spend record before it has that id"
        if spend_id in self.claimed:
            return f"model.train names spend_id {spend_id}, which the model.train record at seq {self.claimed[spend_id]} already names"
        payer, mechanism = self.spends[spend_id]
        if payer != body["actor"]:
            return f"model.train by {body['actor']} names spend_id {spend_id}, which {payer} paid"
        if not self._pays_for(details, mechanism):
            return (f"model.train names spend_id {spend_id}, but that spend's mechanism is not the run's "
                    "(subsampled Gaussian with its sampling_rate, noise_multiplier and steps, composed with its "
                    "private evaluation's discrete Gaussian)")
        self.claimed[spend_id] = body["seq"]
        self.linked += 1
        return None

    @staticmethod
    def _pays_for(details, mechanism):
        training = {"mechanism": "subsampled_gaussian", "sampling_rate": details.get("sampling_rate"),
                    "noise_multiplier": details.get("noise_multiplier"), "steps": details.get("steps")}
        if not (isinstance(mechanism, dict) and mechanism.get("mechanism") == "composition"):
            return _same_numbers(mechanism, training)
        parts = mechanism.get("parts")
        if len(mechanism) != 2 or not isinstance(parts, list) or len(parts) != 2 or not _same_numbers(parts[0], training):
            return False
        evaluation = parts[1]
        if not isinstance(evaluation, dict) or evaluation.get("mechanism") != "discrete_gaussian":
            return False
        return "evaluation_noise_sigma" not in details or _same_numbers(evaluation.get("sigma"), details["evaluation_noise_sigma"])


def verify(log_path, key, checkpoint=None, links=None):
    """Returns (records, head hash hex, spends replayed); `links` (a ModelSpendLinks) collects the
    model <-> spend links. Raises Failure at the first bad record."""
    links = links if links is not None else ModelSpendLinks()
    with open(log_path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    previous = bytes(32)
    spends = {}  # dataset -> mechanisms spent so far, oldest first
    replays = {}  # PLD compositions kept between records
    for number, raw in enumerate(lines, start=1):
        expected = number
        try:
            line = json.loads(raw.decode("utf-8"))
            if not isinstance(line, dict) or set(line) != {"body", "hash", "sig"}:
                raise ValueError
            body_text, hash_hex, sig_b64 = line["body"], line["hash"], line["sig"]
            if not all(isinstance(v, str) for v in (body_text, hash_hex, sig_b64)):
                raise ValueError
            claimed = binascii.unhexlify(hash_hex)
            signature = base64.b64decode(sig_b64, validate=True)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise Failure(number, expected, "not a JSON object with string fields body, hash (hex) and sig (base64)")
        try:
            body = json.loads(body_text)
            seq = body.get("seq") if isinstance(body, dict) else None
        except ValueError:
            body, seq = None, None
        if isinstance(seq, int) and seq != expected:
            raise Failure(number, seq, f"seq is {seq} where {expected} was expected: records removed, reordered or inserted")
        computed = blake2b(previous + body_text.encode("utf-8"), digest_size=32, encoder=RawEncoder)
        if computed != claimed:
            raise Failure(number, expected, "hash does not match BLAKE2b-256(previous hash || body)")
        if not verify_signature(key, signature, claimed):
            raise Failure(number, expected, "sig does not verify with the audit public key")
        if not isinstance(body, dict) or not isinstance(seq, int):
            raise Failure(number, expected, "body is not a JSON object with an integer seq")
        for field, kind in (("time", str), ("actor", str), ("action", str), ("details", dict)):
            if not isinstance(body.get(field), kind):
                raise Failure(number, seq, f"body field {field} is missing or of the wrong type")
        if checkpoint is not None and seq == checkpoint["seq"] and hash_hex != checkpoint["hash"]:
            raise Failure(number, seq, "hash differs from the checkpoint's: the log was rewritten")
        if body["action"] == "budget.spend":
            details = body["details"]
            try:
                mechanism, delta, claimed_epsilon = details["mechanism"], float(details["delta"]), float(details["cumulative_epsilon"])
            except (KeyError, TypeError, ValueError):
                raise Failure(number, seq, "a budget.spend record must carry mechanism, delta and cumulative_epsilon")
            history = spends.setdefault(details.get("dataset", ""), [])
            history.append(mechanism)
            try:
                replayed = replay_epsilon(history, delta, details.get("accountant"), replays)
            except (KeyError, TypeError, ValueError) as error:
                raise Failure(number, seq, f"the spends so far cannot be replayed: {error}")
            if not abs(replayed - claimed_epsilon) <= EPSILON_TOLERANCE * max(abs(replayed), abs(claimed_epsilon)):
                raise Failure(number, seq, f"cumulative_epsilon is {claimed_epsilon} but the spends so far compose to {replayed} (dp_accounting)")
            links.spend(body)
        elif body["action"] == "model.train":
            reason = links.train(body)
            if reason is not None:
                raise Failure(number, seq, reason)
        previous = claimed
    if checkpoint is not None and checkpoint["seq"] > len(lines):
        raise Failure(len(lines) + 1, len(lines) + 1,
                      f"the log ends at seq {len(lines)} but the checkpoint vouches for seq {checkpoint['seq']}")
    return len(lines), previous.hex(), sum(len(history) for history in spends.values())


def main(argv):
    args = argv[1:]
    checkpoint_path = None
    if "--checkpoint" in args:
        index = args.index("--checkpoint")
        if index + 1 >= len(args):
            sys.stderr.write(__doc__)
            return 2
        checkpoint_path = args[index + 1]
        del args[index:index + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    log_path, key_path = args
    try:
        key = load_public_key(key_path)
    except (OSError, ValueError, binascii.Error) as error:
        sys.stderr.write(f"cannot read the public key: {error}\n")
        return 2
    checkpoint = None
    if checkpoint_path is not None:
        with open(checkpoint_path, "rb") as handle:
            checkpoint = json.loads(handle.read())
        if not verify_checkpoint_signature(key, checkpoint):
            print(f"FAILED: the checkpoint's signature does not verify (seq {checkpoint['seq']})")
            return 1
    links = ModelSpendLinks()
    try:
        records, head, replayed = verify(log_path, key, checkpoint, links)
    except Failure as failure:
        print(f"FAILED: {failure}")
        return 1
    unlinked = f"; {links.unlinked} written before Veil recorded the link cannot be checked" if links.unlinked else ""
    print(f"OK: {records} records verified; head seq {records} hash {head}; "
          f"cumulative epsilon of {replayed} spend record(s) replayed with dp_accounting; "
          f"{links.linked} private model(s) linked to the spend that paid for them{unlinked}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
