"""The ``preflight`` command: a thin layer over :mod:`preflight.api`.

Each command lives in its own module ``preflight/cli/<name>_cmd.py`` exposing ``command``; modules are
imported only when their command runs, so ``preflight probe`` never pays for mediapipe or httpx.
:func:`main` turns every error into one line ``preflight: code: message`` and the exit codes of
DESIGN.md: 0 all pass, 1 some input fails, 2 usage error, 3 internal error. click's own usage errors
(unknown option, missing argument, bad choice) are such a line too, coded ``usage.invalid`` and
pointing at the command's ``--help``. ``--debug`` or ``PREFLIGHT_DEBUG=1`` lets the traceback through.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from ..errors import PreflightError, UsageError, printable

__all__ = ["cli", "main", "run"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

# Command name -> module under preflight.cli. Order is the order of `preflight --help`.
COMMANDS = {
    "probe": "probe_cmd",
    "check": "check_cmd",
    "fix": "fix_cmd",
    "prepare": "prepare_cmd",
    "submit": "submit_cmd",
    "jobs": "jobs_cmd",
    "batch": "batch_cmd",
    "profiles": "profiles_cmd",
    "models": "models_cmd",
    "demo": "demo_cmd",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _module_exists(COMMANDS[name])]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None or not _module_exists(module_name):
            return None
        module = importlib.import_module(f"{__name__}.{module_name}")
        return module.command


def _module_exists(module_name: str) -> bool:
    return importlib.util.find_spec(f"{__name__}.{module_name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="preflight-motion", prog_name="preflight")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """Get media ready for Kling v2.6 Motion Control and the providers that resell it.

    Probe, check against a provider profile, fix, and submit a subject image and a motion clip.
    """
    if debug:
        os.environ["PREFLIGHT_DEBUG"] = "1"
    if os.environ.get("PREFLIGHT_DEBUG") == "1":
        from ..damage import libav_logs_for_debug

        libav_logs_for_debug()  # FFmpeg's own warnings; dropped otherwise (PyAV's default)
    _init_logging(logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING)


def _init_logging(level: int) -> None:
    logger = logging.getLogger("preflight")
    if not any(getattr(h, "_preflight", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("preflight: %(levelname)s: %(message)s"))
        handler._preflight = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``preflight`` script; returns the exit code."""
    debug = os.environ.get("PREFLIGHT_DEBUG") == "1" or "--debug" in (argv or sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="preflight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("preflight: interrupted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # `preflight`, `preflight jobs`: show what there is
        if exc.ctx is not None:
            click.echo(exc.ctx.get_help())
        _say(f"usage.invalid: missing a command ({_help_hint(exc.ctx, argv)})")
        return EXIT_USAGE
    except click.UsageError as exc:  # unknown option, missing argument, bad choice or value
        _say(f"usage.invalid: {exc.format_message()} ({_help_hint(exc.ctx, argv)})")
        return EXIT_USAGE
    except click.ClickException as exc:  # click.FileError and the like: the environment, not the usage
        _say(f"{_CLICK_CODES.get(type(exc).__name__, 'usage.invalid')}: {exc.format_message()}")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except UsageError as exc:
        if debug:
            raise
        _say(exc.one_line())
        return EXIT_USAGE
    except PreflightError as exc:
        if debug:
            raise
        _say(exc.one_line())
        return EXIT_FAIL
    except KeyboardInterrupt:
        click.echo("preflight: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if debug:
            raise
        _say(f"internal.error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
        return EXIT_INTERNAL
    # In non-standalone mode click returns the code of a click.exceptions.Exit (see exit_with).
    return result if isinstance(result, int) else EXIT_OK


_CLICK_CODES = {"FileError": "file.unreadable"}
"""click's non-usage exceptions -> finding code (click.File arguments; none in use today)."""


def _say(line: str) -> None:
    """The one line on stderr: ``preflight: code: message``, whatever the message holds."""
    click.echo(f"preflight: {printable(' '.join(line.split(' ')).strip())}", err=True)


def _help_hint(ctx: click.Context | None, argv: list[str] | None) -> str:
    """``preflight check --help``: where the failing command's options are listed. click gives no
    context for some errors (``fix -o`` without a value): then the command named in ``argv``."""
    if ctx is not None:
        return f"{ctx.command_path} --help"
    named = next((a for a in (sys.argv[1:] if argv is None else argv) if a in COMMANDS), None)
    return f"preflight {named} --help" if named else "preflight --help"


def run() -> None:
    """The ``preflight`` script and ``python -m preflight``: :func:`main` with native log lines
    (MediaPipe, LiteRT, FFmpeg) kept off stderr unless ``--debug``. ``main`` itself leaves the
    process's stderr alone, so a program or a test calling it in process keeps its own."""
    if "--debug" not in sys.argv[1:]:
        from ..nativelog import filter_native_logs

        filter_native_logs()
    sys.exit(main())


def exit_with(code: int) -> None:
    """Commands call this to set the exit code (0/1) without printing anything more."""
    raise click.exceptions.Exit(code)
