#ifndef VEIL_CVEILCPU_CPU_H
#define VEIL_CVEILCPU_CPU_H

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Whether this CPU runs the code VeilWideKernels is compiled to on x86-64: AVX2 and FMA instructions,
   and an operating system that saves the 256-bit registers. Read from cpuid and xgetbv directly:
   leaf 1 ECX bit 12 (FMA), 27 (OSXSAVE: xgetbv may be executed) and 28 (AVX); XCR0 bits 1 and 2 (the
   OS saves SSE and AVX state, so the ymm registers survive a context switch); leaf 7 EBX bit 5 (AVX2).
   1 on other architectures, where that target is compiled for the base instruction set. */
static inline int veil_cpu_runs_wide_kernels(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned int fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((ecx & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
    unsigned int xcr0Low, xcr0High;
    __asm__ volatile("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    (void)xcr0High;
    if ((xcr0Low & 0x6u) != 0x6u) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & (1u << 5)) != 0;
#else
    return 1;
#endif
}

/* Whether this CPU runs the code VeilAVX512Kernels is compiled to on x86-64: everything
   veil_cpu_runs_wide_kernels asks for, AVX-512 F, DQ, BW and VL (leaf 7 EBX bits 16, 17, 30 and 31),
   and an operating system that saves the opmask and 512-bit registers (XCR0 bits 5, 6 and 7).
   0 on other architectures, where that target holds nothing faster than the baseline. */
static inline int veil_cpu_runs_avx512_kernels(void) {
#if defined(__x86_64__)
    if (!veil_cpu_runs_wide_kernels()) return 0;
    unsigned int xcr0Low, xcr0High;
    __asm__ volatile("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    (void)xcr0High;
    if ((xcr0Low & 0xE0u) != 0xE0u) return 0;
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned int f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
    return (ebx & (f | dq | bw | vl)) == (f | dq | bw | vl);
#else
    return 0;
#endif
}

#endif
