"""Enforced SubPopulations (ESP; Gomez & Miikkulainen 1999, Gomez 2003) as the outer loop of
Evolino (Wierstra, Gomez & Schmidhuber, GECCO 2005, §3; Schmidhuber et al., Neural
Computation 2007, §3.2).

One subpopulation of ``n`` chromosomes per LSTM cell; a chromosome is every weight *into*
that cell (its columns of the input/recurrent matrix, its biases and peepholes for all four
gates). One generation::

    for r in 1 … trials:                      each subpopulation is permuted independently
        individual k = (chromosome π_1(k) of cell 1, …, chromosome π_H(k) of cell H)
    evaluate the trials · n individuals       (one batched call)
    credit  F[j, i] = mean (or best) fitness of the individuals chromosome i of cell j was in
    per subpopulation: sort by F; the top quarter are the parents and survive unchanged;
        every other chromosome is replaced by a one-point crossover of two random parents
        plus Cauchy noise C(0, α) on every weight
    burst mutation: after ``stagnation`` generations without a new best individual, every
        subpopulation is refilled around the best individual's chromosome with Cauchy noise
        of scale ``burst_scale`` (that chromosome itself is kept)

With permutations every chromosome takes part in exactly ``trials`` individuals per
generation, so mean credit compares like with like.
"""
from __future__ import annotations

import math
from typing import Optional

import torch


def cauchy(shape, scale: float, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """Cauchy(0, scale) samples by the inverse CDF ``scale · tan(π (u − ½))``."""
    u = torch.rand(*shape, generator=generator, dtype=torch.float64)
    return (scale * torch.tan(math.pi * (u - 0.5))).to(dtype)


def credit(index: torch.Tensor, fitness: torch.Tensor, n: int, mode: str = "mean") -> torch.Tensor:
    """Fitness credited to each chromosome, ``(H, n)``.

    :param index: ``(K, H)`` chromosome of each subpopulation used by individual k
    :param fitness: ``(K,)`` the individuals' fitness (higher is better)
    :param n: subpopulation size
    :param mode: ``"mean"`` of the individuals a chromosome took part in, or ``"best"``
        (their maximum); a chromosome that took part in none gets −inf
    """
    K, H = index.shape
    f = fitness.to(torch.float64).unsqueeze(1).expand(K, H)
    flat = (index + n * torch.arange(H).unsqueeze(0)).reshape(-1)
    if mode == "mean":
        sums = torch.zeros(H * n, dtype=torch.float64).index_add_(0, flat, f.reshape(-1))
        counts = torch.zeros(H * n, dtype=torch.float64).index_add_(0, flat, torch.ones(K * H, dtype=torch.float64))
        out = torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, -math.inf))
    elif mode == "best":
        out = torch.full((H * n,), -math.inf, dtype=torch.float64).scatter_reduce(
            0, flat, f.reshape(-1), reduce="amax", include_self=True)
    else:
        raise ValueError(f"unknown ESP credit {mode!r}; accepted: mean, best")
    return out.reshape(H, n)


class ESP:
    """The subpopulations and their update; state is small and checkpointable.

    :param n_sub: number of subpopulations (LSTM cells)
    :param length: chromosome length
    :param n: chromosomes per subpopulation
    :param trials: individuals each chromosome takes part in per generation
    :param init_scale: initial weights U(−init_scale, init_scale)
    :param alpha: Cauchy mutation scale
    :param parents: fraction of each subpopulation kept as parents (top quarter)
    :param credit_mode: "mean" or "best"
    :param stagnation: generations without improvement before a burst mutation (0: never)
    :param burst_scale: Cauchy scale of the burst mutation
    :param generator: the learner's random stream
    """

    def __init__(self, n_sub: int, length: int, n: int, trials: int, init_scale: float, alpha: float,
                 parents: float, credit_mode: str, stagnation: int, burst_scale: float,
                 generator: torch.Generator, dtype=torch.float64):
        if n < 2 or trials < 1:
            raise ValueError(f"ESP needs a subpopulation size >= 2 and trials >= 1, got {n}, {trials}")
        self.n_sub, self.length, self.n, self.trials = n_sub, length, n, trials
        self.alpha, self.parents, self.credit_mode = alpha, parents, credit_mode
        self.stagnation, self.burst_scale = stagnation, burst_scale
        self.g, self.dtype = generator, dtype
        u = torch.rand(n_sub, n, length, generator=generator, dtype=torch.float64)
        self.pop = ((2 * u - 1) * init_scale).to(dtype)          # (H, n, L) chromosomes
        self.best_fitness = -math.inf                             # best individual so far
        self.best_chroms: Optional[torch.Tensor] = None           # (H, L) its chromosomes
        self.stagnant = 0                                         # generations since improvement
        self.bursts = 0

    @property
    def popsize(self) -> int:
        return self.trials * self.n

    def ask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index (K, H), chromosomes (K, H, L))`` for K = trials · n individuals."""
        perms = [torch.stack([torch.randperm(self.n, generator=self.g) for _ in range(self.n_sub)], 1)
                 for _ in range(self.trials)]
        index = torch.cat(perms, 0)                                      # (K, H)
        chroms = self.pop[torch.arange(self.n_sub).unsqueeze(0), index]  # (K, H, L)
        return index, chroms

    def tell(self, index: torch.Tensor, fitness: torch.Tensor) -> dict:
        H, n, L = self.pop.shape
        k = int(fitness.argmax())
        improved = float(fitness[k]) > self.best_fitness
        if improved:
            self.best_fitness = float(fitness[k])
            self.best_chroms = self.pop[torch.arange(H), index[k]].clone()
        F = credit(index, fitness, n, self.credit_mode)
        order = F.argsort(1, descending=True)
        ranked = torch.gather(self.pop, 1, order.unsqueeze(-1).expand(H, n, L))
        mu = max(1, int(round(self.parents * n)))
        m = n - mu
        a = torch.randint(mu, (H, m), generator=self.g)
        b = torch.randint(mu, (H, m), generator=self.g)
        cut = torch.randint(1, max(L, 2), (H, m, 1), generator=self.g)
        pa = torch.gather(ranked, 1, a.unsqueeze(-1).expand(H, m, L))
        pb = torch.gather(ranked, 1, b.unsqueeze(-1).expand(H, m, L))
        child = torch.where(torch.arange(L) < cut, pa, pb) + cauchy((H, m, L), self.alpha, self.g, self.dtype)
        self.pop = torch.cat([ranked[:, :mu], child], 1)
        self.stagnant = 0 if improved else self.stagnant + 1
        burst = bool(self.stagnation) and self.stagnant >= self.stagnation
        if burst:
            noise = cauchy((H, n - 1, L), self.burst_scale, self.g, self.dtype)
            self.pop = torch.cat([self.best_chroms.unsqueeze(1), self.best_chroms.unsqueeze(1) + noise], 1)
            self.stagnant, self.bursts = 0, self.bursts + 1
        return {"credit_best": float(F.max()), "stagnant": self.stagnant, "burst": int(burst)}

    def state_dict(self) -> dict:
        return {"pop": self.pop, "best_fitness": self.best_fitness, "best_chroms": self.best_chroms,
                "stagnant": self.stagnant, "bursts": self.bursts}

    def load_state_dict(self, sd: dict) -> None:
        self.pop = sd["pop"]
        self.best_fitness = float(sd["best_fitness"])
        self.best_chroms = sd["best_chroms"]
        self.stagnant, self.bursts = int(sd["stagnant"]), int(sd["bursts"])
