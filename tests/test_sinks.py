"""curve.png: the success panel appears where the centre has a success rate, a symlog axis
where returns span orders of magnitude (Evolino's errors), and the file is replaced whole."""
import csv
import struct

from dps.runner.sinks import BASE_COLUMNS, _spans_decades, plot_curve


def _metrics(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=BASE_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r)


def _png_width(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", head[16:20])[0]


def _row(g, best, mean, center=None, success=None):
    return {"generation": g, "episodes": 10 * (g + 1), "env_steps": 0, "wall_seconds": 0.0, "best": best,
            "mean": mean, "center_return": "" if center is None else center,
            "center_success": "" if success is None else success}


def test_success_panel_only_where_the_env_reports_success(tmp_path):
    _metrics(tmp_path / "a.csv", [_row(g, 1.0, 0.5, 0.8 if g % 2 else None, 0.5 if g % 2 else None)
                                   for g in range(6)])
    _metrics(tmp_path / "b.csv", [_row(g, 1.0, 0.5, 0.8 if g % 2 else None) for g in range(6)])
    wide = plot_curve(tmp_path / "a.csv", tmp_path / "a.png")
    narrow = plot_curve(tmp_path / "b.csv", tmp_path / "b.png")
    assert _png_width(wide) > 1.4 * _png_width(narrow)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_symlog_only_where_values_span_orders_of_magnitude():
    assert _spans_decades([-3e-4, -2.3e15, -1e9])
    assert not _spans_decades([1.0, 2.0, -5.0, 0.0])
    assert not _spans_decades([float("nan"), 1e-6, 1e-3])   # small values: a linear axis shows them


def test_no_metrics_no_plot(tmp_path):
    assert plot_curve(tmp_path / "missing.csv", tmp_path / "x.png") is None
    _metrics(tmp_path / "empty.csv", [])
    assert plot_curve(tmp_path / "empty.csv", tmp_path / "x.png") is None and not (tmp_path / "x.png").exists()


def test_tensorboard_sink_writes_every_numeric_column(tmp_path):
    import pytest
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dps.runner import RunConfig, train

    d = train(RunConfig(algo="pgpe", env="tmaze:length=3", policy="lstm:hidden=2", generations=3, popsize=4,
                        episodes=2, eval_episodes=2, eval_every=1, tensorboard=True, out=str(tmp_path / "tb")),
              quiet=True)
    acc = EventAccumulator(str(d / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"best", "mean", "center_return", "center_success", "env_steps"} <= tags
    assert [e.step for e in acc.Scalars("best")] == [8, 16, 24]   # training episodes
