"""The ``preflight`` command: a thin layer over :mod:`preflight.api`.

Each command lives in its own module ``preflight/cli/<name>_cmd.py`` exposing ``command``; modules are
imported only when their command runs, so ``preflight probe`` never pays for mediapipe or httpx.
:func:`main` turns every error into one line ``preflight: code: message`` and the exit codes of
DESIGN.md: 0 all pass, 1 some input fails, 2 usage error, 3 internal error. click's own usage errors
(unknown option, missing argument, bad choice) are such a line too, coded ``usage.invalid`` and
pointing at the command's ``--help``. ``--debug`` or ``PREFLIGHT_DEBUG=1`` lets the traceback through.

Ctrl-C ends a run with ``preflight: interrupted: stopped by Ctrl-C (SIGINT)``, exit 130. :func:`run`
(the script) turns SIGTERM into the same path, a :class:`Terminated` raised in the main thread, so
``finally`` blocks run and temporary files go; it ends with exit 143. A closed stdout (``preflight
check ... | head -1``) ends the run quietly with exit 141, as SIGPIPE ends other Unix tools.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util  # find_spec: `import importlib` alone does not load it (a venv without setuptools' .pth)
import io
import logging
import os
import signal
import sys
from typing import Any

import click

from ..errors import PreflightError, UsageError, memory_exhausted, os_error_code, out_of_memory, printable
from .allocator import keep_freed_memory

__all__ = ["Terminated", "cli", "interrupted", "main", "run"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a program Ctrl-C ended
EXIT_BROKEN_PIPE = 128 + 13  # 141: SIGPIPE's number (not in Windows' signal module)
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by :func:`run`'s handler.

    A KeyboardInterrupt so that everything that cleans up after Ctrl-C (``finally`` blocks, the
    removal of a half-written output, batch's stop that keeps finished files) does so after SIGTERM too.
    """


class _Through(Exception):
    """Carries an interrupt or a closed stdout past click's ``main``, which would print a blank line
    and turn the first into a bare ``Abort`` (which signal was it?) and the second into ``sys.exit(1)``."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(cause)
        self.cause = cause

# Command name -> module under preflight.cli. Order is the order of `preflight --help`.
COMMANDS = {
    "probe": "probe_cmd",
    "check": "check_cmd",
    "fix": "fix_cmd",
    "prepare": "prepare_cmd",
    "submit": "submit_cmd",
    "jobs": "jobs_cmd",
    "batch": "batch_cmd",
    "serve": "serve_cmd",
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

    # The root group parses (and prints --help) in make_context and runs the command in invoke.
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:  # fmt: skip
        try:
            return super().make_context(info_name, args, parent, **extra)
        except (KeyboardInterrupt, BrokenPipeError) as exc:
            raise _Through(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, BrokenPipeError) as exc:
            raise _Through(exc) from exc


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
        from ..media.damage import libav_logs_for_debug

        libav_logs_for_debug()  # FFmpeg's own warnings; dropped otherwise (PyAV's default)
    _init_logging(logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING)


def _init_logging(level: int) -> None:
    from ..nativelog import add_log_handler

    add_log_handler(logging.getLogger("preflight"))
    logging.getLogger("preflight").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``preflight`` script; returns the exit code."""
    debug = os.environ.get("PREFLIGHT_DEBUG") == "1" or "--debug" in (argv or sys.argv[1:])
    _received.clear()
    try:
        result = cli.main(args=argv, prog_name="preflight", standalone_mode=False)
    except _Through as exc:
        if isinstance(exc.cause, BrokenPipeError):
            return EXIT_BROKEN_PIPE  # the reader has gone: nothing to say, and nowhere to say it
        if debug:
            import traceback

            traceback.print_exception(exc.cause)
        return interrupted(cause=exc.cause)
    except click.exceptions.Abort as exc:  # click.confirm: Ctrl-C or end of input at the question
        if isinstance(exc.__cause__ or exc.__context__, EOFError):
            _say("usage.invalid: a question went unanswered: stdin ended (pass --yes to answer yes)")
            return EXIT_USAGE
        return interrupted(cause=exc.__cause__ or exc.__context__)
    except _NO_ARGS_IS_HELP as exc:  # `preflight`, `preflight jobs`: show what there is
        if exc.ctx is not None:
            click.echo(exc.ctx.get_help())
        _say(f"usage.invalid: missing a command ({_help_hint(exc.ctx, argv)})")
        return EXIT_USAGE
    except click.UsageError as exc:  # unknown option, missing argument, bad choice or value
        _say(f"usage.invalid: {exc.format_message()} ({_help_hint(exc.ctx, argv)})")
        return EXIT_USAGE
    except click.ClickException as exc:  # click.FileError and the like: the environment, not the usage
        _say(f"{_CLICK_CODES.get(type(exc).__name__, 'preflight.error')}: {exc.format_message()}")
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
    except KeyboardInterrupt as exc:  # before or after the command ran (click's main turns one
        return interrupted(cause=exc)  # during parsing into Abort, above)
    except BrokenPipeError:
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # the environment (a folder that cannot be written, a full disk), not a bug
        if debug:
            raise
        _say(f"{os_error_code(exc)}: {_os_error_words(exc)}")
        return EXIT_FAIL
    except MemoryError:
        if debug:
            raise
        _say("memory.exhausted: this machine ran out of memory (try fewer --jobs, or smaller inputs)")
        return EXIT_FAIL
    except Exception as exc:
        if debug:
            raise
        if out_of_memory(exc):  # a native library's words for it (std::bad_alloc, a loader that could not map)
            _say(memory_exhausted(exc).one_line())
            return EXIT_FAIL
        _say(f"internal.error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
        return EXIT_INTERNAL
    # In non-standalone mode click returns the code of a click.exceptions.Exit (see exit_with).
    return result if isinstance(result, int) else EXIT_OK


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())
"""click 8.2+ raises it for a group given no command; 8.1 prints the help and exits 0 itself."""

_CLICK_CODES = {"FileError": "file.unreadable"}
"""click's non-usage exceptions -> finding code (click.File arguments; none in use today)."""


def _say(line: str) -> None:
    """The one line on stderr: ``preflight: code: message``, whatever the message holds."""
    with contextlib.suppress(OSError):  # stderr closed too (`2>&1 | head -1`): nowhere left to say it
        click.echo(f"preflight: {printable(line.strip())}", err=True)


_STOPPED_BY = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
_received: list[int] = []
"""Signals :func:`run`'s handler turned into :class:`Terminated` during this :func:`main`."""


def interrupted(detail: str = "", cause: BaseException | None = None) -> int:
    """Say that the run was stopped, and by what (one line, code ``interrupted``); return the exit
    code: 130 after Ctrl-C, 143 after SIGTERM. ``batch``, which lets running files finish after a
    Ctrl-C, calls it with how far it got."""
    signum = signal.SIGTERM if isinstance(cause, Terminated) or signal.SIGTERM in _received else signal.SIGINT
    if signum == signal.SIGINT and _isatty(sys.stderr):
        click.echo(err=True)  # end the line the terminal's "^C" is on
    _say(f"interrupted: stopped by {_STOPPED_BY[signum]}" + (f"; {detail}" if detail else ""))
    return EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _on_sigterm(signum: int, frame: Any) -> None:
    if os.getpid() != _handler_pid.get("pid"):  # a child forked with this handler: die as asked
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _received.append(signum)
    raise Terminated


_handler_pid: dict[str, int] = {}


def _os_error_words(exc: OSError) -> str:
    """``/out/report.json: Permission denied``: the file and the system's words, no ``[Errno 13]``."""
    words = exc.strerror or str(exc) or type(exc).__name__
    where = [os.fsdecode(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{' -> '.join(where)}: {words}" if where else words


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
    _stand_in_for_closed_streams()  # first: the filter below dups fd 2
    _single_threaded_blas()
    keep_freed_memory(next((a for a in sys.argv[1:] if a in COMMANDS), None))  # before any thread starts
    if "--debug" not in sys.argv[1:]:
        from ..nativelog import filter_native_logs, route_python_warnings

        filter_native_logs()
        route_python_warnings()
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")  # a character stdout's encoding lacks: spelt out
    _handler_pid["pid"] = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    code = main()
    # Done: a signal now ends the process the default way, with nothing left to clean up.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        sys.stdout.flush()  # what is still buffered: a reader that went early makes this fail
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except OSError:
        pass
    if code == EXIT_BROKEN_PIPE:  # and Python's own flush at exit must not complain about it either
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


def _single_threaded_blas() -> None:
    """One OpenBLAS thread for the process and its workers, unless the user chose a number.

    NumPy's OpenBLAS starts a thread per core when it loads, and those threads spin before they sleep:
    0.1 s of CPU per process on this 2-core machine (``import numpy`` alone: 0.21 s of CPU against
    0.11 s with one thread), paid by every check, probe and batch worker, for nothing: the largest
    linear algebra here is a 3x3 colour matrix. Set before NumPy is first imported (the command line
    imports it lazily), so a program that imports preflight as a library keeps its own setting."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class _ClosedStdout(io.RawIOBase):
    """Stands for a stdout the shell closed (``preflight check x >&-``): every write fails as a write
    into a pipe whose reader has gone, so the run ends as one does (quietly, exit 141)."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise BrokenPipeError(errno.EPIPE, "stdout is closed")

    def fileno(self) -> int:
        return 1  # /dev/null by now (rich points stdout's descriptor there on a broken pipe)


def _stand_in_for_closed_streams() -> None:
    """File descriptors 0-2 the shell closed get /dev/null, so no file preflight opens later takes
    their number (a library writing to "stdout" would write into it); Python, which left
    ``sys.stdout`` None (the traceback of issue 19), gets :class:`_ClosedStdout`, and a closed stdin or
    stderr reads as empty and swallows what is written."""
    closed = [fd for fd in (0, 1, 2) if not _is_open(fd)]
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if 0 in closed:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - the process's stdin until exit
    if 1 in closed:
        sys.stdout = io.TextIOWrapper(_ClosedStdout(), encoding="utf-8", write_through=True)
    if 2 in closed:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - the process's stderr until exit


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def exit_with(code: int) -> None:
    """Commands call this to set the exit code (0/1) without printing anything more."""
    raise click.exceptions.Exit(code)
