/* forces.c: N particles in a unit box under softened 1/r forces, STEPS steps; the
 * energy of each step to forces.stat, the last on stdout. The particles' loop is
 * OpenMP-parallel: OMP_NUM_THREADS threads (parc_mpi sets it to the task's cores).
 *
 *   cc -O2 -fopenmp -o forces.x forces.c -lm && ./forces.x 200 5 1
 *
 * Positions come from the Park-Miller generator in doubles, so that forces.awk, the
 * fallback where there is no C compiler, computes the same numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double state;

static double uniform(void)
{
    state = fmod(16807.0 * state, 2147483647.0);
    return state / 2147483647.0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: forces.x N STEPS SEED\n");
        return 2;
    }
    int n = atoi(argv[1]), steps = atoi(argv[2]);
    long seed = atol(argv[3]);
    if (n < 2 || steps < 1 || seed < 1 || seed >= 2147483647L) {
        fprintf(stderr, "forces.x: needs N >= 2, STEPS >= 1, 1 <= SEED < 2^31-1; got %s %s %s\n",
                argv[1], argv[2], argv[3]);
        return 3;
    }
    state = (double)seed;
    double *x = malloc(3 * sizeof(double) * n), *f = malloc(3 * sizeof(double) * n);
    if (!x || !f) {
        fprintf(stderr, "forces.x: out of memory for %d particles\n", n);
        return 4;
    }
    for (int i = 0; i < 3 * n; i++)
        x[i] = uniform();
    FILE *out = fopen("forces.stat", "w");
    if (!out) {
        perror("forces.x: forces.stat");
        return 5;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    double energy = 0.0;
    for (int s = 0; s < steps; s++) {
        energy = 0.0;
#pragma omp parallel for reduction(+ : energy) schedule(static)
        for (int i = 0; i < n; i++) {
            double fx = 0.0, fy = 0.0, fz = 0.0, e = 0.0;
            for (int j = 0; j < n; j++) {
                if (j == i)
                    continue;
                double dx = x[3 * i] - x[3 * j], dy = x[3 * i + 1] - x[3 * j + 1],
                       dz = x[3 * i + 2] - x[3 * j + 2];
                double inv = 1.0 / sqrt(dx * dx + dy * dy + dz * dz + 0.01);
                e += inv;
                fx += dx * inv * inv * inv;
                fy += dy * inv * inv * inv;
                fz += dz * inv * inv * inv;
            }
            f[3 * i] = fx;
            f[3 * i + 1] = fy;
            f[3 * i + 2] = fz;
            energy += 0.5 * e;
        }
        for (int i = 0; i < 3 * n; i++)
            x[i] += 1e-6 * f[i];
        fprintf(out, "%d %.10e\n", s, energy);
    }
    fclose(out);
    printf("threads %d energy %.10e\n", threads, energy);
    return 0;
}
