"""Supervised sequence tasks: hand-checked values, protocols, registry errors."""
import math

import pytest
import torch

from dps.errors import UserError
from dps.tasks import TASKS, make_task
from dps.tasks.anbncn import AnBnCn, string
from dps.tasks.mackey_glass import integrate, mackey_glass_series
from dps.tasks.sines import sines


def test_sines_formula_hand_values():
    t = torch.tensor([0, 5, 10])
    y2 = sines(2, t)
    assert float(y2[0]) == 0.0
    # t = 5 → x = 4: sin(0.8) + sin(1.244)
    assert float(y2[1]) == pytest.approx(0.7173560908995228 + 0.9470756148609, abs=1e-12)
    # t = 10 → x = 8: sin(1.6) + sin(2.488) + sin(3.36)
    assert float(sines(3, t)[2]) == pytest.approx(1.3909410699396465, abs=1e-12)


def test_sines_train_window_and_test_protocol():
    task = make_task("sines:n=2")
    d = task.train_data()
    assert d.inputs.shape == (949, 1) and d.targets.shape == (949, 1)
    assert torch.equal(d.inputs[1:], d.targets[:-1])          # input = previous target
    assert float(d.targets[-1, 0]) == pytest.approx(float(sines(2, torch.tensor([949]))[0]))

    class Oracle:  # drives, then "generates" the true continuation of the series
        def drive(self, inputs, resets=None):
            return inputs, inputs.shape[1]

        def generate(self, state, first, steps):
            assert state == 949 and float(first[0, 0]) == pytest.approx(float(task.series[949]))
            return task.series[950:950 + steps].reshape(1, steps, 1)

    metrics, curves = task.evaluate(Oracle())
    assert metrics["test_mse"] == 0.0
    assert curves["x"][0] == pytest.approx(1600.0) and curves["x"][-1] == pytest.approx(2159.2)


def test_anbncn_string_and_targets():
    x, y, det = string(2)
    assert ["Sabc"[int(i)] for i in x.argmax(1)] == list("Saabbcc")
    # targets over (a, b, c, T): S→a, a→{a,b}, a→{a,b}, b→b, b→c, c→c, c→T
    expect = [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert y.tolist() == expect
    assert det.tolist() == [True, False, False, True, True, True, True]
    task = AnBnCn(train_max=3, test_max=8)
    d = task.train_data()
    assert d.length == 4 + 7 + 10 and d.resets.nonzero().reshape(-1).tolist() == [0, 4, 11]


def test_anbncn_max_n_counts_the_first_failure():
    task = AnBnCn(train_max=3, test_max=12)

    class Model:  # perfect on strings n != 7, wrong on the last symbol of n = 7
        def drive(self, inputs, resets=None):
            out = torch.zeros(inputs.shape[0], inputs.shape[1], 4, dtype=torch.float64)
            for n in range(1, inputs.shape[0] + 1):
                _, y, _ = string(n)
                out[n - 1, :len(y)] = y
            out[6, 3 * 7, :] = 0.0
            return out, None

    m, _ = task.evaluate(Model())
    assert m["max_n"] == 6 and m["solved_fraction"] == pytest.approx(11 / 12)


def test_mackey_glass_against_analytic_and_reference_integration():
    dt = 0.1
    grid = integrate(40.0, dt)
    # for t ≤ τ the delayed term is the constant history 1.2: dx/dt = c − 0.1 x
    c = 0.2 * 1.2 / (1 + 1.2 ** 10)
    for t in (5.0, 10.0, 17.0):
        exact = c / 0.1 + (1.2 - c / 0.1) * math.exp(-0.1 * t)
        assert grid[int(round(t / dt))] == pytest.approx(exact, abs=1e-9)
    # independent reference: explicit Euler with a 100× smaller step
    h, d = 0.001, 17000
    x = [1.2] * (d + 1)
    for k in range(int(40 / h)):
        xt = x[k]
        x.append(x[-1] + h * (0.2 * xt / (1 + xt ** 10) - 0.1 * x[-1]))
    for t in (20.0, 30.0, 40.0):
        assert grid[int(round(t / dt))] == pytest.approx(x[d + int(round(t / h))], abs=2e-3)
    s = mackey_glass_series(5, transient=0)
    assert float(s[1]) == pytest.approx(grid[10]) and float(s[4]) == pytest.approx(grid[40])


def test_registry_errors_are_clear():
    with pytest.raises(UserError, match="unknown task 'nope'"):
        make_task("nope")
    with pytest.raises(UserError, match="unknown option 'm'"):
        make_task("sines:m=2")
    with pytest.raises(UserError, match=r"bad value 7 for task sines option n; accepted: an integer >= 1 and <= 5"):
        make_task("sines:n=7")
    assert any(line.startswith("mackey-glass") for line in TASKS.describe())
