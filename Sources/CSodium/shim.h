#ifndef VEIL_CSODIUM_SHIM_H
#define VEIL_CSODIUM_SHIM_H

#include <sodium.h>

/* Constants that are macros in sodium.h are re-exported as functions so Swift can call them. */
static inline size_t veil_kdf_contextbytes(void) { return crypto_kdf_CONTEXTBYTES; }

#endif
