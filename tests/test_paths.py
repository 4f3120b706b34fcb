from codecbench.paths import HOME_ENV, codecbench_home


def test_home_follows_the_environment_variable_and_is_created(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "cb"
    monkeypatch.setenv(HOME_ENV, str(target))
    assert codecbench_home() == target
    assert target.is_dir()


def test_home_defaults_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert codecbench_home() == tmp_path / ".cache" / "codecbench"
