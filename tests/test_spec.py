import pytest

from dps.errors import UserError
from dps.spec import bind_spec, parse_spec


def f(id: str, hide: tuple[int, ...] = (), velocities: bool = True, length: int = 3, lr: float = 0.1):
    pass


def test_parse_and_bind():
    s = parse_spec("gym:CartPole-v1,hide=1+3,velocities=false,length=7,lr=1e-3")
    assert s.name == "gym" and s.args == ("CartPole-v1",)
    kw = bind_spec(s, f, "env")
    assert kw == {"id": "CartPole-v1", "hide": (1, 3), "velocities": False, "length": 7, "lr": 1e-3}
    assert str(s) == "gym:CartPole-v1,hide=1+3,velocities=false,length=7,lr=1e-3"
    # an option replaced in place, a new one appended, the spec itself unchanged
    assert str(s.with_options(length=9, max_steps=50)) == \
        "gym:CartPole-v1,hide=1+3,velocities=false,length=9,lr=1e-3,max_steps=50"
    assert s.options["length"] == "7"


@pytest.mark.parametrize("text,msg", [
    ("", "empty"), (":a=1", "missing name"), ("x:a=1,,b=2", "empty item"), ("x:a=1,a=2", "given twice"),
    ("x:a=1,pos", "positional item"), ("x:=3", "has no key"),
])
def test_malformed(text, msg):
    with pytest.raises(UserError, match=msg):
        parse_spec(text)


def test_bad_values():
    with pytest.raises(UserError, match="bad value 'maybe'.*true/false"):
        bind_spec(parse_spec("g:X,velocities=maybe"), f, "env")
    with pytest.raises(UserError, match="unknown option 'speed'.*accepted: id, hide, velocities, length, lr"):
        bind_spec(parse_spec("g:X,speed=3"), f, "env")
    with pytest.raises(UserError, match="needs id"):
        bind_spec(parse_spec("g"), f, "env")
