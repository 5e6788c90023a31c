"""Play a trained network in the terminal.

    python -m dps.play atari-go RUN_DIR [--size N] [--color black|white] [--watch L2] [--seed S]

Moves are typed like ``c3`` (column letter, row number from the bottom; see
:mod:`dps.envs.atari_go.render`); ``quit`` ends the game. Illegal or malformed input is
re-prompted with the reason and leaves the game unchanged. ``--watch OPPONENT`` prints a
whole game between the network and a ladder opponent instead.

The game loops (:func:`play_game`, :func:`watch_game`) take a policy factory and a
parameter vector, so they are usable and testable without a run directory.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch

from .envs.atari_go.constants import BLACK, WHITE, check_size
from .envs.atari_go.game import Game
from .envs.atari_go.opponents import Opponent
from .envs.atari_go.render import parse_move, point_name, render
from .errors import UserError
from .policies.heads import DiscreteHead
from .seeding import make_generator

COLOR_NAMES = {"black": BLACK, "white": WHITE}


class NetworkPlayer:
    """Greedy network move: :meth:`DiscreteHead.greedy` over the empty points, ties broken
    uniformly by the player's own seeded generator (the head's one tie-breaking rule)."""

    def __init__(self, policy, params: torch.Tensor, seed: int = 0):
        self.policy = policy
        self.params = params.detach().reshape(1, -1).float()
        if self.params.shape[1] != policy.num_params:
            raise UserError(f"the run's parameter vector has {self.params.shape[1]} entries but "
                            f"{policy.describe()} needs {policy.num_params}")
        self.head = DiscreteHead(policy.out_size)
        self.generator = make_generator(seed, "cpu")

    @torch.no_grad()
    def move(self, game: Game) -> int:
        b = game.b
        planes = b.planes(b.to_move)
        obs = planes.reshape(1, 1, *planes.shape[1:])
        state = self.policy.initial_state(1, 1, device=obs.device, dtype=self.params.dtype)
        out, _ = self.policy.step(self.params, obs, state)
        mask = b.legal().reshape(1, 1, -1)
        return int(self.head.greedy(out, mask, self.generator).reshape(-1)[0])


def _announce(game: Game, names: dict, print_fn, board: bool = True) -> None:
    if board:
        print_fn(render(game.b.grid[0]))
    loser = "black" if game.winner == "white" else "white"
    how = (f"{game.winner} captured" if game.end_reason == "capture"
           else f"{loser} committed suicide")
    print_fn(f"Game over after {game.plies} plies: {how}; {names[game.winner]} ({game.winner}) wins.")


def play_game(policy_factory: Callable, params: torch.Tensor, size: int = 5,
              human_color: str = "black", input_fn: Callable = input,
              print_fn: Callable = print, seed: int = 0) -> Game | None:
    """A person (``input_fn``) against the network; returns the finished game, or None
    when the person quits (``quit``/``exit`` or end of input)."""
    size = check_size(size)
    if human_color not in COLOR_NAMES:
        raise UserError(f"unknown color {human_color!r}; accepted: black, white")
    net = NetworkPlayer(policy_factory(size), params, seed)
    game = Game(size)
    human = COLOR_NAMES[human_color]
    names = {human_color: "you", ("white" if human == BLACK else "black"): "the network"}
    last = None
    print_fn(f"Atari-Go {size}x{size}: first capture wins, suicide loses. You are {human_color} "
             f"({'X' if human == BLACK else 'O'}). Type moves like {point_name(size * size // 2, size)}; "
             "'quit' ends.")
    while not game.done:
        print_fn(render(game.b.grid[0], last))
        if int(game.b.to_move[0]) == human:
            try:
                text = input_fn(f"{game.to_move} to move> ")
            except EOFError:
                return None
            if text.strip().lower() in ("quit", "exit", "q"):
                return None
            try:
                p = parse_move(text, size)
                game.play(text.strip())
            except UserError as err:
                print_fn(f"not played: {err}")
                continue
        else:
            p = net.move(game)
            print_fn(f"the network ({game.to_move}) plays {point_name(p, size)}")
            game.play(p)
        last = p
    _announce(game, names, print_fn)
    return game


def watch_game(policy_factory: Callable, params: torch.Tensor, size: int = 5,
               opponent: str = "L2", network_color: str = "black",
               print_fn: Callable = print, seed: int = 0) -> Game:
    """Print a whole game between the network and a ladder opponent."""
    size = check_size(size)
    if network_color not in COLOR_NAMES:
        raise UserError(f"unknown color {network_color!r}; accepted: black, white")
    net = NetworkPlayer(policy_factory(size), params, seed)
    opp = Opponent(opponent, seed + 1)
    game = Game(size)
    mine = COLOR_NAMES[network_color]
    names = {network_color: "the network", ("white" if mine == BLACK else "black"): opp.level}
    while not game.done:
        who = names[game.to_move]
        p = net.move(game) if int(game.b.to_move[0]) == mine else int(opp.move(game.b)[0])
        print_fn(f"{game.plies + 1:>3}. {who} ({game.to_move}) plays {point_name(p, size)}")
        game.play(p)
        print_fn(render(game.b.grid[0], p))
    _announce(game, names, print_fn, board=False)
    return game


def _size_from_env(env_spec: str) -> int:
    from .envs.registry import ENVS

    spec = ENVS.spec(env_spec or "atari-go")
    if spec.name != "atari-go":
        raise UserError(f"the run was trained on env {spec.name!r}, not atari-go")
    return int(ENVS.options(spec).get("size", 5))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dps.play", description="Play a trained dps network.")
    ap.add_argument("game", help="the game: atari-go")
    ap.add_argument("run_dir", help="a dps run directory")
    ap.add_argument("--size", type=int, default=None, help="board size (default: the training size)")
    ap.add_argument("--color", default="black", help="your colour: black or white")
    ap.add_argument("--watch", default=None, metavar="OPPONENT",
                    help="print a game of the network against a ladder opponent (L0..L6)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if args.game != "atari-go":
            raise UserError(f"unknown game {args.game!r}; accepted: atari-go")
        from .policies import make_policy
        from .runner import load_run

        policy_spec, params, config = load_run(args.run_dir)
        size = check_size(args.size) if args.size is not None else _size_from_env(config.get("env"))

        def factory(N):
            return make_policy(policy_spec, (2, N, N), N * N)

        if args.watch:
            net_color = args.color if args.color in COLOR_NAMES else "black"
            watch_game(factory, params, size, args.watch, net_color, seed=args.seed)
        else:
            play_game(factory, params, size, args.color, seed=args.seed)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print()
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
