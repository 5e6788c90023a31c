"""Play Atari-Go in the terminal: against a trained network or a ladder opponent, or watch
the network play one.

    python -m dps.play atari-go [RUN_DIR] [--size N] [--color black|white] [--opponent LEVEL | --watch LEVEL] [--seed S]

Without ``--opponent`` you play the network of RUN_DIR; ``--opponent LEVEL`` (``L0``..``L6``
or an alias such as ``killer``; see :mod:`dps.envs.atari_go.opponents`) makes you play that
ladder level instead, and then no RUN_DIR is needed. ``--watch LEVEL`` prints a whole game
between the network and a ladder level (``--color`` is then the network's colour).
``--size`` is 2..19; its default is the run's training size, or 5 without a run.

Moves are typed like ``c3`` (column letter, row number from the bottom; see
:mod:`dps.envs.atari_go.render`); ``quit`` ends the game. Illegal or malformed input is
re-prompted with the reason and leaves the game unchanged.

The game loops (:func:`play_human`, :func:`play_game`, :func:`play_opponent`,
:func:`watch_game`) take a player object or a policy factory and a parameter vector, so
they are usable and testable without a run directory.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch

from .envs.atari_go.constants import BLACK, WHITE, check_size
from .envs.atari_go.game import Game
from .envs.atari_go.opponents import Opponent, opponent_name
from .envs.atari_go.render import parse_move, point_name, render
from .errors import UserError
from .policies.heads import DiscreteHead
from .seeding import make_generator

COLOR_NAMES = {"black": BLACK, "white": WHITE}
# the Atari-Go env's own default size, for a game that has no run to take it from
DEFAULT_SIZE = 5


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


class LadderPlayer:
    """A ladder level (:class:`~dps.envs.atari_go.opponents.Opponent`) with the same
    ``move(game)`` interface as :class:`NetworkPlayer`."""

    def __init__(self, level: str = "L2", seed: int = 0):
        self.opponent = Opponent(level, seed)
        self.name = self.opponent.level

    def move(self, game: Game) -> int:
        return int(self.opponent.move(game.b)[0])


def _announce(game: Game, names: dict, print_fn, board: bool = True) -> None:
    if board:
        print_fn(render(game.b.grid[0]))
    loser = "black" if game.winner == "white" else "white"
    how = (f"{game.winner} captured" if game.end_reason == "capture"
           else f"{loser} committed suicide")
    who = names[game.winner]
    print_fn(f"Game over after {game.plies} plies: {how}; {who} ({game.winner}) {'win' if who == 'you' else 'wins'}.")


def play_human(player, size: int = 5, human_color: str = "black", input_fn: Callable = input,
               print_fn: Callable = print, name: str = "the opponent") -> Game | None:
    """A person (``input_fn``) against ``player`` (anything with ``move(game) -> point``,
    called ``name`` in the messages); returns the finished game, or None when the person
    quits (``quit``/``exit`` or end of input)."""
    size = check_size(size)
    if human_color not in COLOR_NAMES:
        raise UserError(f"unknown color {human_color!r}; accepted: black, white")
    game = Game(size)
    human = COLOR_NAMES[human_color]
    names = {human_color: "you", ("white" if human == BLACK else "black"): name}
    last = None
    print_fn(f"Atari-Go {size}x{size} against {name}: first capture wins, suicide loses. You are "
             f"{human_color} ({'X' if human == BLACK else 'O'}). Type moves like "
             f"{point_name(size * size // 2, size)}; 'quit' ends.")
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
            p = player.move(game)
            print_fn(f"{name} ({game.to_move}) plays {point_name(p, size)}")
            game.play(p)
        last = p
    _announce(game, names, print_fn)
    return game


def play_game(policy_factory: Callable, params: torch.Tensor, size: int = 5,
              human_color: str = "black", input_fn: Callable = input,
              print_fn: Callable = print, seed: int = 0) -> Game | None:
    """A person (``input_fn``) against the network; see :func:`play_human`."""
    size = check_size(size)
    if human_color not in COLOR_NAMES:
        raise UserError(f"unknown color {human_color!r}; accepted: black, white")
    net = NetworkPlayer(policy_factory(size), params, seed)
    return play_human(net, size, human_color, input_fn, print_fn, "the network")


def play_opponent(level: str = "L2", size: int = 5, human_color: str = "black",
                  input_fn: Callable = input, print_fn: Callable = print, seed: int = 0) -> Game | None:
    """A person (``input_fn``) against a ladder level (``L0``..``L6`` or an alias); see
    :func:`play_human`. No network is involved."""
    ladder = LadderPlayer(level, seed)
    return play_human(ladder, size, human_color, input_fn, print_fn, ladder.name)


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


def _parse_size(text: str | None) -> int | None:
    """``--size`` as given (a string, so that a non-number gets the same one-line error as an
    out-of-range number, not argparse's usage block)."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = text
    return check_size(value)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dps.play",
                                 description="Play Atari-Go against a trained dps network or a ladder opponent.")
    ap.add_argument("game", help="the game: atari-go")
    ap.add_argument("run_dir", nargs="?", default=None,
                    help="a dps run directory (not needed with --opponent)")
    ap.add_argument("--size", default=None, metavar="N",
                    help=f"board size 2..19 (default: the run's training size, or {DEFAULT_SIZE} without a run)")
    ap.add_argument("--color", default="black", help="your colour: black or white (with --watch: the network's)")
    ap.add_argument("--opponent", default=None, metavar="LEVEL",
                    help="play this ladder level (L0..L6 or an alias) instead of the network")
    ap.add_argument("--watch", default=None, metavar="LEVEL",
                    help="print a game of the network against a ladder level (L0..L6 or an alias)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if args.game != "atari-go":
            raise UserError(f"unknown game {args.game!r}; accepted: atari-go")
        # every argument is checked before a run is loaded, so a typo costs no loading time
        size = _parse_size(args.size)
        if args.opponent is not None and args.watch is not None:
            raise UserError("--opponent (you play a ladder level) and --watch (the network plays one) "
                            "exclude each other; give one of them")
        if args.opponent is not None:
            level = opponent_name(args.opponent)
            if args.run_dir is not None:
                # a run directory here most likely means "watch the network against LEVEL"
                raise UserError(f"--opponent {args.opponent} plays you against {level}, which needs no "
                                f"RUN_DIR; drop {args.run_dir!r}, or use --watch {args.opponent} to watch "
                                "the network play it")
            play_opponent(level, size if size is not None else DEFAULT_SIZE, args.color, seed=args.seed)
            return 0
        watch = opponent_name(args.watch) if args.watch is not None else None
        if args.run_dir is None:
            raise UserError("RUN_DIR is required to play or watch a network; use --opponent LEVEL "
                            "to play a ladder level without one")
        from .policies import make_policy
        from .runner import load_run

        policy_spec, params, config = load_run(args.run_dir)
        if size is None:
            size = _size_from_env(config.get("env"))

        def factory(N):
            return make_policy(policy_spec, (2, N, N), N * N)

        if watch is not None:
            net_color = args.color if args.color in COLOR_NAMES else "black"
            watch_game(factory, params, size, watch, net_color, seed=args.seed)
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
