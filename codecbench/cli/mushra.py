"""``codecbench mushra``: create a MUSHRA listening test, follow it, screen and export the ratings.

Thin wrappers over :mod:`codecbench.listening_test`; heavy imports (pandas, the audio stack)
stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from codecbench.cli.checks import check_writable
from codecbench.cli.options import DEFAULT_HOST, DEFAULT_PORT, database_option, opened_database
from codecbench.listening_test.screening_names import SCREENING_RULE_NAMES


@click.group("mushra")
def mushra_group() -> None:
    """MUSHRA listening tests: create one from test.yaml, follow it, screen and export the ratings."""


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

    with opened_database(database_url) as database:
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

    with opened_database(database_url) as database, database.session(read_only=True) as session:
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
    with opened_database(database_url) as database, database.session(read_only=True) as session:
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
    with opened_database(database_url) as database, database.session(read_only=True) as session:
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
