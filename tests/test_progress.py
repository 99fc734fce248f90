from wsm.core import progress


def test_notebook_progress_is_a_few_lines(capsys, monkeypatch):
    monkeypatch.setattr(progress, "interactive", lambda: False)
    with progress.bar(total=100, initial=20, desc="zoo") as b:
        for _ in range(80):
            b.update()
    for _ in progress.bar(range(1000), desc="inner", leave=False):
        pass
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "zoo: 80 to do, 20 already done"
    assert [line.split()[1] for line in lines[1:-1]] == ["25/100", "50/100", "75/100"]
    assert lines[-1].startswith("zoo: 100/100 done in")
    assert len(lines) == 5


def test_terminal_progress_is_tqdm(monkeypatch):
    monkeypatch.setattr(progress, "interactive", lambda: True)
    b = progress.bar(total=3, desc="x", disable=True)
    assert type(b).__name__ == "tqdm"
