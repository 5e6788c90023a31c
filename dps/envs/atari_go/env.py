"""Atari-Go against a fixed ladder opponent on the :class:`~dps.envs.base.BatchedEnv`
contract.

Slots ``(P, B)`` are P population members × B games each, flattened to G = P·B games of
one :class:`~.boards.Boards`. The agent's colour alternates over b: in game b = 0 the
opponent is Black and moves first (inside :meth:`reset`), in b = 1 the agent is Black, …
The env plays the opponent's reply inside :meth:`step`, so one step is one agent move; a mix
of levels (``opponent="L2+L5+L6"``) deals each member's games to the levels. Boards up to 7×7
against L0–L2 are kept as bitboards (:mod:`.bitboard`; ``engine=boards`` forces the general
engine): the opponent sees the same maps and draws the same moves, so games are identical.

* observation ``(P, B, 2, N, N)`` float, player-canonical: channel 0 = opponent stones,
  channel 1 = own stones;
* action: point index ``i·N + j`` (``Discrete(N²)``); :meth:`action_mask` = empty points
  (all True in finished games, whose actions are ignored);
* reward: +1 win / −1 loss on the step that ends the game, 0 before; with ``shaping`` the
  magnitude is ``1 − 0.2·(plies − 3)/(N² − 3)`` (quick wins and long losses are better);
* ``info["success"]``: the agent won; ``info["plies"]``: both players' moves so far.
"""
from __future__ import annotations

from typing import Annotated

import torch

from ...errors import UserError
from ...spec import Range
from ..base import BatchedEnv, Discrete
from .bitboard import BitBoards
from .boards import Boards
from .constants import BLACK, WHITE, check_size
from .opponents import Opponent, OpponentMix, match_engine, opponent_levels


class AtariGoEnv(BatchedEnv):
    has_success = True
    has_action_mask = True
    gamma = 1.0

    def __init__(self, size: Annotated[int, Range(2, 19)] = 5, opponent: str = "L2+L5+L6",
                 games: Annotated[int, Range(1, 100_000)] = 40,
                 shaping: bool = False, engine: str = "auto", device="cpu"):
        """
        :param size: board size N (2..19)
        :param opponent: ladder level ``L0``..``L6`` or alias (``random``, ``killer`` …), or a
            mix such as ``L2+L5+L6`` (the default: the strongest players train against it,
            docs/ATARI_GO.md): each member's games are dealt to the levels in colour-balanced
            pairs (games 2k and 2k+1 play level k mod K)
        :param games: default number of games per member (the runner's ``--episodes``)
        :param shaping: length-shaped reward ±(1 − 0.2·(plies − 3)/(N² − 3))
        :param engine: ``auto`` (bitboards when N ≤ 7 and the opponent is L0–L2, else the
            general engine), ``bits`` or ``boards``; both give the same games
        """
        super().__init__(device)
        self.N = self.size = check_size(size)
        self.levels = opponent_levels(opponent)
        self.opponent = "+".join(self.levels)
        if isinstance(games, bool) or not isinstance(games, int) or games < 1:
            raise UserError(f"games must be a positive integer, got {games!r}")
        self.games = games
        self.shaping = bool(shaping)
        self.engine = match_engine(self.opponent, self.opponent, self.N, engine)
        self.observation_shape = (2, self.N, self.N)
        self.action_space = Discrete(self.N * self.N)
        self.max_steps = (self.N * self.N + 1) // 2 + 1  # the agent's moves in the longest game
        self.boards = None

    def __repr__(self) -> str:
        return f"AtariGoEnv(size={self.N}, opponent={self.opponent}, games={self.games})"

    # ---- BatchedEnv ------------------------------------------------------------------
    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        self.P, self.B = int(P), int(B)
        G = self.P * self.B
        self.boards = (BitBoards if self.engine == "bits" else Boards)(self.N, G, self.device)
        b = torch.arange(self.B, device=self.device).repeat(self.P)
        self.agent = torch.where(b % 2 == 0, WHITE, BLACK).to(torch.int8)
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device))
        if len(self.levels) == 1:
            self.opp = Opponent(self.opponent, seed, self.device)
        else:
            self.opp = OpponentMix(self.levels, (b // 2) % len(self.levels), seed, self.device)
        self.boards.play(self.opp.move(self.boards), active=self.agent == WHITE)
        return self._obs()

    def step(self, action: torch.Tensor):
        bd = self.boards
        if bd is None:
            raise UserError("AtariGoEnv.step() called before reset()")
        before = bd.done.clone()
        bd.play(action.reshape(-1), active=~before)
        bd.play(self.opp.move(bd), active=~bd.done)
        ended = bd.done & ~before
        won = bd.winner == self.agent
        mag = torch.ones(bd.G, device=self.device)
        if self.shaping:
            M = self.N * self.N
            mag = 1 - 0.2 * (bd.plies.float() - 3).clamp_min(0) / max(M - 3, 1)
        reward = torch.where(ended, torch.where(won, mag, -mag), torch.zeros_like(mag))
        shape = (self.P, self.B)
        info = {"success": (bd.done & won).reshape(shape), "plies": bd.plies.reshape(shape)}
        return self._obs(), reward.reshape(shape), bd.done.reshape(shape), info

    def action_mask(self) -> torch.Tensor:
        bd = self.boards
        return (bd.legal() | bd.done[:, None]).reshape(self.P, self.B, -1)

    def _obs(self) -> torch.Tensor:
        return self.boards.planes(self.agent).reshape(self.P, self.B, 2, self.N, self.N)

    # ---- results of the last rollout ---------------------------------------------------
    def results(self) -> dict:
        """Per-slot ``(P, B)`` tensors of the current games: ``agent_color``, ``won``,
        ``plies``, ``done``."""
        bd, shape = self.boards, (self.P, self.B)
        return {"agent_color": self.agent.reshape(shape), "won": (bd.winner == self.agent).reshape(shape),
                "plies": bd.plies.reshape(shape), "done": bd.done.reshape(shape)}
