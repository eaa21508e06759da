"""`stemdeck submit` and `stemdeck status`: use a StemDeck server from the command line.

One file becomes a job, several become a batch (an album). With --wait each track gets a
progress bar fed by polling its record, and finished stems are downloaded to
`OUT/<album>/<NN - title>/<stem>.<ext>` (a single song without an album tag goes to
`OUT/<NN - title>/`). The ids are printed first, so `stemdeck status ID --wait --out DIR` picks
up where an interrupted run stopped; files already downloaded whole are not fetched again.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
POLL_S = 1.0
ServerOpt = Annotated[
    str,
    typer.Option(envvar="STEMDECK_SERVER", help="The server's URL ($STEMDECK_SERVER)."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--api-key", envvar="STEMDECK_API_KEY", help="API key ($STEMDECK_API_KEY)."),
]
WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Follow progress and download the stems.")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Where stems are downloaded.")]


class ClientError(Exception):
    """Something the user must read: no server, a refusal, a failed job."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(1)


class Api:
    """A thin httpx client that turns transport errors and 4xx/5xx answers into ClientError."""

    def __init__(self, server: str, api_key: str | None) -> None:
        import httpx

        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=60.0)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        for _ in range(5):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise ClientError(
                    f"cannot reach the StemDeck server at {self.server} ({exc.__class__.__name__}:"
                    f" {exc}); is it running (stemdeck serve) and is --server right?"
                ) from None
            if response.status_code == 429:  # rate limited: wait as told, then again
                time.sleep(float(response.headers.get("retry-after", "5")))
                continue
            if response.status_code >= 400:
                status = response.status_code
                raise ClientError(f"the server answered {status}: {_detail(response)}")
            return response.json() if response.content else None
        raise ClientError("the server keeps answering 429 (rate limited); try again later")

    @contextlib.contextmanager
    def stream(self, path: str) -> Iterator[Any]:
        import httpx

        try:
            with self.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(
                        f"download of {path} failed ({response.status_code}: {_detail(response)})"
                    )
                yield response
        except httpx.TransportError as exc:
            raise ClientError(f"download of {path} broke off: {exc}") from None


def _detail(response: Any) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.text[:300] or response.reason_phrase


def _upload(api: Api, files: list[Path], fields: dict[str, str]) -> dict[str, Any]:
    for path in files:
        if not path.is_file():
            raise ClientError(f"{path} is not a file")
    handles = [path.open("rb") for path in files]
    try:
        if len(files) == 1:
            parts = [("file", (files[0].name, handles[0]))]
            return api.request("POST", "/v1/jobs", files=parts, data=fields)
        parts = [("files", (p.name, h)) for p, h in zip(files, handles, strict=True)]
        return api.request("POST", "/v1/batches", files=parts, data=fields)
    finally:
        for handle in handles:
            handle.close()


def _safe(part: str) -> str:
    from stemdeck.api.names import safe_filename

    return safe_filename(part.replace("/", "-"), fallback="untitled")


def track_folder(out_dir: Path, job: dict[str, Any], album: str | None) -> Path:
    """OUT/<album>/<NN - title>/ (album from the batch or the file's tags, if any)."""
    title = job.get("title") or job["id"]
    number = job.get("track_number")
    name = _safe(f"{number:02d} - {title}" if number else title)
    album = album or (job.get("results", {}).get("tags") or {}).get("album")
    return out_dir / _safe(album) / name if album else out_dir / name


def download_job(api: Api, job: dict[str, Any], out_dir: Path, album: str | None) -> Path:
    """Every stem of a finished job into its track folder; whole files are not fetched again."""
    folder = track_folder(out_dir, job, album)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, info in (job.get("results", {}).get("stems") or {}).items():
        target = folder / f"{stem}.{info.get('format', 'wav')}"
        if target.is_file() and target.stat().st_size == info.get("bytes"):
            continue
        part = target.with_name(target.name + ".part")
        with api.stream(f"/v1/jobs/{job['id']}/stems/{stem}") as response, part.open("wb") as f:
            for chunk in response.iter_bytes(1 << 20):
                f.write(chunk)
        os.replace(part, target)
    return folder


def _stage(job: dict[str, Any]) -> str:
    """What a track's bar shows: the running stage's label, as the job record carries it
    (declared in common/stages.py; the name from a server that sends none), else the status."""
    if job["status"] in ("succeeded", "failed", "cancelled"):
        return job["status"]
    for name, stage in job.get("stages", {}).items():
        if stage.get("status") == "running":
            return escape(stage.get("label") or name)
    return job["status"]


def _jobs_of(api: Api, ident: str) -> tuple[list[dict[str, Any]], str | None]:
    if ident.startswith("batch_"):
        batch = api.request("GET", f"/v1/batches/{ident}")
        return batch["jobs"], batch.get("title") or None
    return [api.request("GET", f"/v1/jobs/{ident}")], None


def follow(api: Api, ident: str, out_dir: Path | None, wait: bool) -> int:
    """Poll until every track has ended (with bars), downloading each as it succeeds; the
    number of tracks that did not succeed."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    jobs, album = _jobs_of(api, ident)
    done: set[str] = set()
    failed = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[stage]}"),
    )
    with Progress(*columns, console=err, disable=not wait) as progress:
        bars = {
            job["id"]: progress.add_task(
                escape(job.get("title") or job["id"]), total=100, stage=_stage(job)
            )
            for job in jobs
        }
        while True:
            for job in jobs:
                progress.update(bars[job["id"]], completed=job["progress"], stage=_stage(job))
                if job["id"] in done or job["status"] not in ("succeeded", "failed", "cancelled"):
                    continue
                done.add(job["id"])
                if job["status"] == "succeeded":
                    if out_dir is not None:
                        folder = download_job(api, job, out_dir, album)
                        progress.console.print(f"{escape(job['title'])}: stems in {folder}")
                else:
                    failed += 1
                    error = (job.get("error") or {}).get("message", job["status"])
                    progress.console.print(
                        f"[red]{escape(job.get('title') or job['id'])}: {job['status']}[/red]"
                        f" — {escape(str(error))}"
                    )
            if not wait or len(done) == len(jobs):
                break
            time.sleep(POLL_S)
            jobs, _ = _jobs_of(api, ident)
    if not wait:
        for job in jobs:
            out.print(f"{job['id']}  {job['status']:<10} {job['progress']:5.1f}%  {job['title']}")
    return failed


def submit(
    files: Annotated[list[Path], typer.Argument(help="Songs; several make an album (batch).")],
    server: ServerOpt = "http://127.0.0.1:8000",
    api_key: KeyOpt = None,
    wait: WaitOpt = True,
    out_dir: OutOpt = Path("stems"),
    format: Annotated[str, typer.Option(help="Stem format: wav, flac or mp3.")] = "wav",
    stems: Annotated[str, typer.Option(help="four, or two (vocals + no_vocals).")] = "four",
    model: Annotated[str | None, typer.Option(help="Separator model on the server.")] = None,
    album: Annotated[str | None, typer.Option(help="Album title (several files).")] = None,
) -> None:
    """Send songs to a StemDeck server; with --wait, follow them and download the stems."""
    fields = {"format": format, "stems": stems}
    if model:
        fields["model"] = model
    if album and len(files) > 1:
        fields["album"] = album
    try:
        api = Api(server, api_key)
        answer = _upload(api, files, fields)
        ident = answer["id"]
        if ident.startswith("batch_"):
            out.print(f"batch {ident} ({len(answer['job_ids'])} tracks)")
            for job in answer["jobs"]:
                out.print(f"  job {job['id']}  {job.get('track_number') or '':>2} {job['title']}")
        else:
            out.print(f"job {ident}  {answer['title']}")
        err.print(
            f"resume with: stemdeck status {ident} --server {server} --wait --out {out_dir}",
            highlight=False,
        )
        failed = follow(api, ident, out_dir, wait) if wait else 0
    except ClientError as exc:
        raise _fail(str(exc)) from None
    if failed:
        raise typer.Exit(1)


def status(
    ident: Annotated[str, typer.Argument(help="A job id (job_...) or batch id (batch_...).")],
    server: ServerOpt = "http://127.0.0.1:8000",
    api_key: KeyOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow until every track has ended.")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Download finished stems here.")
    ] = None,
) -> None:
    """Show a job's or batch's state; with --wait follow it, with --out download its stems."""
    try:
        api = Api(server, api_key)
        failed = follow(api, ident.strip(), out_dir, wait)
    except ClientError as exc:
        raise _fail(str(exc)) from None
    if failed:
        raise typer.Exit(1)
