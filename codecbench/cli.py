"""The ``codecbench`` command: one sub-command per job, each a thin wrapper over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codecbench import __version__
from codecbench.cli_checks import SECONDS, check_writable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: The longest input the commands and the app take unless told otherwise (--max-duration): an
#: hour-long pair took 57 s and 6.9 GB to score.
DEFAULT_MAX_DURATION_S = 600.0
ADMIN_PASSWORD_ENV = "CODECBENCH_ADMIN_PASSWORD"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codecbench")
def main() -> None:
    """Evaluate speech codecs: listen side by side, score test sets, run MUSHRA tests."""


@main.command("codecs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per codec instead of a table.")
def codecs_command(as_json: bool) -> None:
    """List every codec, its operating points, and whether it is ready to run.

    A neural codec is ready when its weights are downloaded (`codecbench download NAME`); the
    status says what is missing otherwise.
    """
    from codecbench.codecs import readiness, registry_entries

    rows = []
    for entry in registry_entries():
        spec, state = entry.spec, readiness(entry.name)
        rows.append((spec, state))
        if as_json:
            weights = entry.weights
            hub = None if weights is None or weights.hub is None else {"repo_id": weights.hub.repo_id, "revision": weights.hub.revision}
            click.echo(
                json.dumps(
                    {
                        **spec.to_dict(), "ready": state.ready, "reason": state.reason, "remedy": state.remedy,
                        "note": state.note, "hub": hub,
                    }
                )
            )
    if as_json:
        return
    table = [("codec", "family", "rate", "operating points", "status")]
    for spec, state in rows:
        rate = "input's" if spec.sample_rate_hz is None else f"{spec.sample_rate_hz / 1000:g} kHz"
        if spec.points_from_model:
            rate = "model's"
        table.append((spec.name, spec.family, rate, _describe_points(spec), state.describe()))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4])


def _describe_points(spec) -> str:
    if spec.points_from_model:
        return "the model's (--model-dir)"
    points = ", ".join(
        point.label if point.tokens_per_second is None else f"{point.label} ({point.tokens_per_second:.4g} tok/s)"
        for point in spec.operating_points
    )
    if spec.bitrate_range_kbps is not None:
        low, high = spec.bitrate_range_kbps
        points += f" (any {low:g}-{high:g} kbps)"
    return points


@main.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Download every codec that has Hub weights.")
def download_command(names: tuple[str, ...], download_all: bool) -> None:
    """Fetch neural codecs' weights from the Hugging Face Hub into codecbench's cache.

    The cache is `hub/` in the codecbench home directory ($CODECBENCH_HOME, default
    ~/.cache/codecbench); each codec is pinned to one Hub revision. Files already there are
    not fetched again. Optional files (FACodec's redecoder, for voice conversion) come along
    when the repository has them.
    """
    from codecbench.codecs import get_entry, registry_entries
    from codecbench.codecs.checkpoints import download

    if download_all:
        names = tuple(entry.name for entry in registry_entries() if entry.weights is not None and entry.weights.hub is not None)
    if not names:
        raise click.UsageError("name at least one codec (see `codecbench codecs`), or pass --all.")
    try:
        entries = [get_entry(name) for name in names]
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    for entry in entries:
        if entry.weights is None:
            raise click.ClickException(f"{entry.name} has no weights to download; it runs as it is.")
        try:
            folder = download(entry.name, entry.weights)
        except (ValueError, RuntimeError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"{entry.name}: {entry.weights.hub.describe()} in {folder}")
        for optional in entry.weights.optional_files:
            if optional.needed_for is not None and not (folder / optional.name).is_file():
                click.echo(
                    f"warning: {entry.weights.hub.describe()} has no {optional.name}; "
                    f"{entry.name} runs without {optional.needed_for}.",
                    err=True,
                )


def _model_options(command):
    """``--model-dir DIR`` and ``--device``, for commands that run a neural codec."""
    command = click.option(
        "--device", default="cpu", show_default=True, help="Where neural codecs run: cpu, cuda or cuda:N."
    )(command)
    return click.option(
        "--model-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Load a neural codec's weights from this directory instead of codecbench's Hub cache.",
    )(command)


_subtype_option = click.option(
    "--subtype", type=click.Choice(["PCM_16", "PCM_24", "FLOAT"], case_sensitive=False), default=None,
    help="Sample format of a .wav or .flac output: PCM_16 (the default), PCM_24, or FLOAT (.wav only; the "
    "codec's output exactly as computed).",
)


@main.command("transcode")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-c", "--codec", "codec_name", required=True, help="Codec name (see `codecbench codecs`).")
@click.option("-b", "--bitrate", "kbps", type=float, default=None, help="Bitrate in kbps (omit for anchors).")
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(path_type=Path),
    help="Where to write the reconstruction (.wav, .flac or .ogg), at the input's sample rate.",
)
@click.option("--max-duration", type=SECONDS, default=DEFAULT_MAX_DURATION_S, show_default=True,
              help="Refuse input longer than this many seconds.")
@_subtype_option
@_model_options
def transcode_command(
    input_path: Path, codec_name: str, kbps: float | None, output_path: Path, max_duration: float,
    subtype: str | None, model_dir: Path | None, device: str,
) -> None:
    """Encode and decode INPUT with one codec; print what happened as one JSON object.

    The output is time-aligned with INPUT (codec delay removed) and has the same length and
    sample rate.
    """
    from codecbench.audio import AudioError, AudioLimits, load_audio, output_format, write_audio
    from codecbench.codecs import CodecNotReadyError, LoadOptions, load_codec, transcode

    try:
        check_writable(output_path, "-o/--output", inputs=(input_path,))
        output_format(output_path, subtype)
        options = LoadOptions(model_dir=model_dir, device=device)
        audio = load_audio(input_path, limits=AudioLimits(max_duration_s=max_duration))
        codec = load_codec(codec_name, options)
        operating_point = codec.spec.operating_point(kbps)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for warning in audio.warnings:
        click.echo(f"warning: {warning}", err=True)
    try:
        result = transcode(codec, audio, operating_point)  # ValueError: e.g. a clip too short for the codec
        write_audio(output_path, result.samples, result.sample_rate_hz, subtype)
    except (AudioError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))


@main.command("convert-voice")
@click.option(
    "--content", "content_path", required=True, type=click.Path(path_type=Path),
    help="The clip whose words and prosody are kept.",
)
@click.option(
    "--timbre", "timbre_path", required=True, type=click.Path(path_type=Path),
    help="The clip whose voice (timbre) they are spoken in.",
)
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(path_type=Path),
    help="Where to write the result (.wav, .flac or .ogg), at the content clip's sample rate and length.",
)
@click.option("--max-duration", type=SECONDS, default=DEFAULT_MAX_DURATION_S, show_default=True,
              help="Refuse clips longer than this many seconds.")
@_subtype_option
@_model_options
def convert_voice_command(
    content_path: Path, timbre_path: Path, output_path: Path, max_duration: float, subtype: str | None,
    model_dir: Path | None, device: str,
) -> None:
    """Speak the --content clip in the voice of the --timbre clip (FACodec); print one JSON object.

    FACodec's redecoder speaks the content clip's prosody and content codes with the timbre
    clip's timbre vector. It needs ns3_facodec_redecoder.bin (`codecbench download facodec`
    fetches it where the Hub repository has it, or --model-dir DIR holding it).
    """
    from codecbench.audio import AudioError, AudioLimits, load_audio, output_format, write_audio
    from codecbench.codecs import CodecNotReadyError, LoadOptions
    from codecbench.voice_conversion import convert_voice

    try:
        check_writable(output_path, "-o/--output", inputs=(content_path, timbre_path))
        output_format(output_path, subtype)
        options = LoadOptions(model_dir=model_dir, device=device)
        limits = AudioLimits(max_duration_s=max_duration)
        content, timbre = load_audio(content_path, limits=limits), load_audio(timbre_path, limits=limits)
        for warning in (*content.warnings, *timbre.warnings):
            click.echo(f"warning: {warning}", err=True)
        result = convert_voice(content, timbre, options)
        write_audio(output_path, result.samples, result.sample_rate_hz, subtype)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))


@main.command("score")
@click.argument("reference_path", metavar="REFERENCE", type=click.Path(path_type=Path))
@click.argument("degraded_path", metavar="DEGRADED", type=click.Path(path_type=Path))
@click.option(
    "-m", "--metrics", default=None,
    help="Comma-separated metrics from visqol, pesq, pesq_wb, pesq_nb, stoi, estoi, sisnr, mel, "
    "mrstft.  [default: all but pesq_wb and pesq_nb, between which pesq chooses]",
)
@click.option(
    "--visqol-protocol", "visqol_protocols", multiple=True,
    help="ViSQOL protocol: speech, speech-exp, audio or audio-native; repeat for several.  [default: speech]",
)
@click.option(
    "--max-delay", type=float, default=0.5, show_default=True,
    help="Largest delay of DEGRADED behind REFERENCE that alignment looks for, in seconds.",
)
@click.option("--max-duration", type=SECONDS, default=DEFAULT_MAX_DURATION_S, show_default=True,
              help="Refuse files longer than this many seconds.")
def score_command(
    reference_path: Path, degraded_path: Path, metrics: str | None, visqol_protocols: tuple[str, ...], max_delay: float,
    max_duration: float,
) -> None:
    """Score DEGRADED against REFERENCE; print one JSON object per metric.

    Each object has metric, value (null if it could not be computed), error (null, or why
    not), protocol, implementation, and the alignment found (delay_samples at the
    reference's rate, gain_db). The files may have different sample rates.
    """
    from codecbench.evaluation.metrics import MetricError, ScoringConfig, prepare_pair, score_prepared_pair

    options: dict = {"max_delay_s": max_delay}
    if metrics is not None:
        options["metrics"] = tuple(name.strip() for name in metrics.split(",") if name.strip())
    if visqol_protocols:
        options["visqol_protocols"] = visqol_protocols
    try:
        config = ScoringConfig(**options)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    try:
        pair = prepare_pair(reference_path, degraded_path, max_delay_s=config.max_delay_s, max_duration_s=max_duration)
    except MetricError as error:
        raise click.ClickException(str(error)) from None
    for warning in pair.warnings:
        click.echo(f"warning: {warning}", err=True)
    for result in score_prepared_pair(pair, config):
        click.echo(json.dumps(result.to_dict()))


def database_option(command):
    """``--db URL`` (default: ``$CODECBENCH_DB``, else a SQLite file in the codecbench home)."""
    return click.option(
        "--db", "database_url", default=None, metavar="URL",
        help="SQLAlchemy database URL (default: $CODECBENCH_DB, else codecbench.sqlite3 in the codecbench home).",
    )(command)


def _open_database(database_url: str | None):
    from codecbench.storage import DatabaseError, open_database

    try:
        return open_database(database_url)
    except (ValueError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None


@main.command("app")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to serve on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to serve on.")
@click.option(
    "--max-duration", type=SECONDS, default=DEFAULT_MAX_DURATION_S, show_default=True,
    help="Longest upload accepted, in seconds.",
)
@database_option
@click.option(
    "--public-url", envvar="CODECBENCH_PUBLIC_URL", default=None, show_envvar=True,
    help="Address participants reach the app at, for the links the Admin page shows (default: http://HOST:PORT/).",
)
@click.option(
    "--admin-password", envvar=ADMIN_PASSWORD_ENV, default=None, show_envvar=True,
    help="Password of the Admin page (prefer the environment variable: options show in process lists). "
    "Without one, the Admin page refuses everything.",
)
@click.option(
    "--model-dir", "model_dirs", multiple=True, metavar="CODEC=DIR",
    help="Load CODEC's weights from DIR (repeatable), e.g. funcodec=./my_model.",
)
@click.option("--device", default="cpu", show_default=True, help="Where neural codecs run: cpu, cuda or cuda:N.")
def app_command(
    host: str,
    port: int,
    max_duration: float,
    database_url: str | None,
    public_url: str | None,
    admin_password: str | None,
    model_dirs: tuple[str, ...],
    device: str,
) -> None:
    """Start the web app on http://HOST:PORT: Listen page, MUSHRA participant page (/mushra/) and Admin (/admin/)."""
    from codecbench.app import AppSettings, launch

    database = _open_database(database_url)
    click.echo(f"database: {database.describe()}", err=True)
    if not admin_password:
        click.echo(f"warning: no admin password ({ADMIN_PASSWORD_ENV}); the Admin page refuses every request.", err=True)
    try:
        settings = AppSettings(
            max_duration_s=max_duration,
            database_url=database.url,
            admin_password=admin_password,
            public_url=public_url,
            model_dirs=_parse_model_dirs(model_dirs),
            device=device,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    finally:
        database.close()
    launch(settings, host=host, port=port)


def _parse_model_dirs(values: tuple[str, ...]) -> dict[str, Path]:
    from codecbench.codecs import get_entry

    model_dirs = {}
    for value in values:
        name, separator, directory = value.partition("=")
        if not separator or not name or not directory:
            raise ValueError(f"--model-dir {value!r}: write CODEC=DIR, e.g. funcodec=./my_model")
        get_entry(name)
        model_dirs[name] = Path(directory)
    return model_dirs


@main.group("mushra")
def mushra_group() -> None:
    """MUSHRA listening tests: create one from test.yaml, follow it, screen and export the ratings."""


#: The names of codecbench.listening_test.screening.SCREENING_RULES (kept here so `--help` imports no pandas;
#: a test checks they agree).
SCREENING_RULE_NAMES = ("none", "bs1534", "bs1534-low-anchor", "encodec")


def _screening_options(command):
    command = click.option(
        "--require-headphone-check", "require_headphones", is_flag=True,
        help="Also exclude assessors who failed the test's headphone check (the antiphase test).",
    )(command)
    command = click.option(
        "--threshold", "thresholds", multiple=True, metavar="NAME=VALUE",
        help="Change a threshold of the screening rule (e.g. reference_below=85); repeatable.",
    )(command)
    return click.option(
        "--screening", type=click.Choice(SCREENING_RULE_NAMES), default="none", show_default=True,
        help="Post-screening rule applied to the assessors (the stored ratings are never changed): "
        "bs1534 is ITU-R BS.1534-3 (hidden reference, mid anchor); bs1534-low-anchor adds a low-anchor "
        "criterion; encodec is EnCodec's crowd rule.",
    )(command)


def _screening_rule(name: str, thresholds: tuple[str, ...]):
    from codecbench.listening_test.screening import screening_rule

    values = {}
    for text in thresholds:
        key, sep, value = text.partition("=")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{text!r}: write NAME=NUMBER, e.g. reference_below=85", param_hint="--threshold")
    try:
        return screening_rule(name, values)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--threshold") from None


def _test_yaml_hint(message: str) -> str:
    """Point audio-limit advice at test.yaml: `mushra create` has no --max-duration option.

    The audio loader words its too-long error for the commands that have that option; for a
    listening test the limit is the test.yaml key ``max_item_duration_s``.
    """
    return message.replace(
        "raise the limit (--max-duration)",
        "raise the limit with `max_item_duration_s:` (seconds) in test.yaml",
    )


@mushra_group.command("create")
@click.argument("spec_path", metavar="TEST_YAML", type=click.Path(path_type=Path))
@database_option
@click.option(
    "--base-url", envvar="CODECBENCH_PUBLIC_URL", default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", show_default=True,
    show_envvar=True, help="Address participants reach the app at (used in the printed links).",
)
@click.option("--allow-outside-paths", is_flag=True,
              help="Let TEST_YAML name files outside its own folder (../x.wav, absolute paths, links out of it).")
def mushra_create_command(spec_path: Path, database_url: str | None, base_url: str, allow_outside_paths: bool) -> None:
    """Make every stimulus of the test in TEST_YAML, store the test, and print its id and links."""
    from codecbench.listening_test.design import admin_link, crowd_link, participant_link, prepare_test, store_test
    from codecbench.listening_test.spec import SpecError
    from codecbench.listening_test.spec_yaml import load_test_spec
    from codecbench.listening_test.stimuli import StimulusError
    from codecbench.untrusted_text import terminal_safe

    database = _open_database(database_url)
    try:
        spec = load_test_spec(spec_path, allow_outside_paths=allow_outside_paths)
        click.echo(f"making stimuli: {spec.num_rated_stimuli} per trial...", err=True)
        with database.session(read_only=True) as session:  # items may come from a stored test set
            prepared = prepare_test(spec, session)
    except (SpecError, StimulusError) as error:  # may quote names from a test.yaml someone else wrote
        raise click.ClickException(terminal_safe(_test_yaml_hint(str(error)))) from None
    for warning in prepared.warnings:
        click.echo(terminal_safe(f"warning: {warning}"), err=True)
    with database.session() as session:
        test = store_test(session, prepared)
    click.echo(f"test id: {test.id}")
    click.echo(f"participant link: {participant_link(base_url, test)}")
    crowd = crowd_link(base_url, test)
    if crowd is not None:
        click.echo(f"crowd link: {crowd}")
    click.echo(f"admin link: {admin_link(base_url, test)}")
    click.echo(f"database: {database.describe()}", err=True)


@mushra_group.command("list")
@database_option
def mushra_list_command(database_url: str | None) -> None:
    """List the tests in the database with their status and number of participants."""
    from codecbench.listening_test.design import list_tests, participant_count
    from codecbench.untrusted_text import terminal_safe

    with _open_database(database_url).session(read_only=True) as session:
        for test in list_tests(session):
            click.echo(
                f"{test.id}\t{test.status}\t{participant_count(session, test.id)} participant(s)\t"
                f"{len(test.items)} item(s)\t{len(test.rated_conditions)} rated condition(s)\t{terminal_safe(test.name)}"
            )


@mushra_group.command("results")
@click.argument("test_id", type=int)
@_screening_options
@click.option("--per-item", is_flag=True, help="Also print the table per item and condition.")
@database_option
def mushra_results_command(test_id: int, screening: str, thresholds: tuple[str, ...], require_headphones: bool,
                           per_item: bool, database_url: str | None) -> None:
    """Print per-condition statistics, screening decisions and paired comparisons of test TEST_ID."""
    from codecbench.listening_test.design import TestNotFoundError
    from codecbench.listening_test.report import compute_results, results_text

    rule = _screening_rule(screening, thresholds)
    with _open_database(database_url).session(read_only=True) as session:
        try:
            results = compute_results(session, test_id, rule, require_headphones=require_headphones)
        except TestNotFoundError as error:
            raise click.ClickException(str(error)) from None
    click.echo(results_text(results, per_item=per_item))


@mushra_group.command("export")
@click.argument("test_id", type=int)
@click.option("--format", "file_format", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "output_path", required=True, type=click.Path(path_type=Path),
              help="File to write: one row per rating.")
@_screening_options
@database_option
def mushra_export_command(
    test_id: int, file_format: str, output_path: Path, screening: str, thresholds: tuple[str, ...],
    require_headphones: bool, database_url: str | None,
) -> None:
    """Write the ratings of test TEST_ID (of the assessors the screening keeps) as CSV."""
    from codecbench.listening_test.design import TestNotFoundError
    from codecbench.listening_test.ratings import load_ratings
    from codecbench.listening_test.report import export_ratings_csv, screen
    from codecbench.untrusted_text import terminal_safe

    rule = _screening_rule(screening, thresholds)
    check_writable(output_path, "-o/--output")
    with _open_database(database_url).session(read_only=True) as session:
        try:
            ratings = load_ratings(session, test_id)
        except TestNotFoundError as error:
            raise click.ClickException(str(error)) from None
    result = screen(rule, ratings, require_headphones=require_headphones)
    kept = result.kept(ratings)
    try:
        export_ratings_csv(kept, output_path)
    except OSError as error:
        raise click.ClickException(f"{output_path}: {error}") from None
    click.echo(terminal_safe(
        f"wrote {len(kept)} rating(s) from {len(result.kept_assessors)} assessor(s) to {output_path}; "
        f"screening '{result.rule}' excluded {len(result.excluded)}: {', '.join(result.excluded) or 'nobody'}"
    ), err=True)


# The evaluation commands (testsets, evaluate, leaderboard, export) live in their own module.
import codecbench.cli_evaluation  # noqa: E402,F401  (registers its commands on main)
import codecbench.cli_reproduce  # noqa: E402,F401  (registers `reproduce` on main)

if __name__ == "__main__":
    # `python -m codecbench.cli`: this file runs as `__main__`, but the command modules above
    # registered their commands on the group of the module `codecbench.cli`; run that one.
    from codecbench.cli import main as registered_main

    sys.exit(registered_main())
