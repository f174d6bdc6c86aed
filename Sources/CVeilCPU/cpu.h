#ifndef VEIL_CVEILCPU_CPU_H
#define VEIL_CVEILCPU_CPU_H

/* Whether this CPU runs the code VeilWideKernels is compiled to: AVX2 on x86-64 (the compiler's own
   cpuid reading, __builtin_cpu_supports). 1 on other architectures, where that target is compiled
   for the base instruction set. */
static inline int veil_cpu_runs_wide_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 1;
#endif
}

#endif
