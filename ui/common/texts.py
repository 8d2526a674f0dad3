"""Where the texts come from: a built-in sample set, pasted lines, an uploaded file, an edited table.

A file of texts *with their vectors* (the batch command line's ``.parquet`` / ``.npz``) comes in
through the same uploader, or, for a team's server, from the folder ``EMBEDCORE_VECTORS_DIR``
names (files larger than an upload may be): its table carries ``vectors``, and the explorer
shows them without embedding anything.

The chosen texts are shared by every page under :data:`ui.common.state.TEXTS`. Each page's
panel starts from the shared choice (same source, same sample, same pasted text), so
opening another page never replaces the texts you were working on.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from embedcore import io
from embedcore.errors import InputError
from ui.common import cached, state, uploads
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, noun_for, plural

SOURCES = ("sample", "paste", "upload", "edit")
_SOURCE_LABELS = {
    "sample": "Sample set",
    "paste": "Paste",
    "upload": "Upload",
    "edit": "Edit table",
    "folder": "Vectors on the server",
    "link": "From the link",
}
#: A folder of ``.parquet`` / ``.npz`` files of texts with vectors that visitors may open by name
#: (an operator's setting: visitors never type a path).
VECTORS_DIR_ENV = "EMBEDCORE_VECTORS_DIR"
_NO_LABEL = "(no labels)"


def set_texts(table: io.TextTable, origin: dict) -> None:
    """Make ``table`` the texts every page uses; ``origin`` is ``{"kind": ..., "name": ...}``."""
    st.session_state[state.TEXTS] = table
    st.session_state[state.TEXTS_ORIGIN] = origin


def _seed(key: str, value) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def text_source_panel(
    prefix: str, *, allow_edit: bool = False, vectors_ok: bool = False
) -> io.TextTable | None:
    """Let the user choose the texts; returns the table in use (also in ``st.session_state[TEXTS]``).

    Parameters
    ----------
    prefix : str
        The page's key prefix (``"embed"``, ``"explorer"``): widget keys are ``f"{prefix}_…"``.
    allow_edit : bool
        Offer an "Edit table" source (``st.data_editor`` over the current texts and labels).
    vectors_ok : bool
        The page shows a file's own vectors (the explorer): files of texts with vectors keep up
        to :data:`embedcore.io.MAX_VECTOR_ROWS` rows, and the ``EMBEDCORE_VECTORS_DIR`` folder is
        offered. Pages that embed what they get keep :data:`embedcore.io.MAX_TEXTS`.

    Returns
    -------
    embedcore.io.TextTable or None
        None while there is nothing usable (empty paste box, no file yet, unreadable file —
        the reason is shown).
    """
    ss = st.session_state
    origin = ss.get(state.TEXTS_ORIGIN) or {"kind": "sample", "name": state.DEFAULT_SAMPLE}
    sources = SOURCES if allow_edit else SOURCES[:3]
    if vectors_ok and vectors_dir() is not None:
        sources = (*sources, "folder")
    if origin.get("kind") == "link":  # texts a link or a saved view brought (ui.common.links)
        sources = (*sources, "link")
    if origin.get("opened", 0) != ss.get(f"{prefix}_opened", 0):
        # A link was opened since this panel was drawn: its choice replaces the panel's own.
        for name in ("source", "sample", "folder_file"):
            ss.pop(f"{prefix}_{name}", None)
        ss[f"{prefix}_opened"] = origin.get("opened", 0)
    if ss.get(f"{prefix}_source") not in (None, *sources):
        ss.pop(f"{prefix}_source")  # the link's texts were replaced: its source is gone
    start = origin.get("kind") if origin.get("kind") in sources else "sample"
    _seed(f"{prefix}_source", start)
    kind = st.radio(
        "Texts from",
        sources,
        format_func=_SOURCE_LABELS.__getitem__,
        horizontal=True,
        key=f"{prefix}_source",
    )
    table: io.TextTable | None = None
    with friendly_errors():
        if kind == "sample":
            table = _sample(prefix, origin)
        elif kind == "paste":
            table = _paste(prefix)
        elif kind == "upload":
            table = _upload(prefix, origin)
        elif kind == "folder":
            table = _folder(prefix, origin)
        elif kind == "link":
            table = _linked(origin)
        else:
            table = _edit(prefix)
        # Vectors from a file cost nothing to show; their limit was applied when it was read.
        shown_as_is = vectors_ok and table is not None and table.vectors is not None
        if table is not None and not shown_as_is and len(table) > io.MAX_TEXTS:
            st.warning(f"{len(table):,} texts; keeping the first {io.MAX_TEXTS:,}.")
            table = table.with_limit(io.MAX_TEXTS)
    if table is not None:
        _summary(table)
    return table


def _sample(prefix: str, origin: dict) -> io.TextTable:
    names = list(io.SAMPLES)
    name = origin.get("name") if origin.get("kind") == "sample" else None
    _seed(f"{prefix}_sample", name if name in names else state.DEFAULT_SAMPLE)
    name = st.selectbox("Sample set", names, key=f"{prefix}_sample", format_func=sample_title)
    st.caption(io.SAMPLES[name])
    table = cached.sample_table(name)
    set_texts(table, {"kind": "sample", "name": name})
    return table


def _paste(prefix: str) -> io.TextTable | None:
    _seed(f"{prefix}_paste", st.session_state.get(state.TEXTS_PASTE, ""))
    text = st.text_area(
        "Texts, one per line",
        key=f"{prefix}_paste",
        height=220,
        # A hint, not example texts: placeholder lines looked like texts already pasted.
        placeholder="Type or paste texts here, one per line.",
    )
    st.session_state[state.TEXTS_PASTE] = text
    if not text.strip():
        st.info("Paste some texts, one per line.", icon=":material/edit_note:")
        return None
    table = io.parse_pasted(text)
    set_texts(table, {"kind": "paste", "name": "pasted"})
    return table


def _upload(prefix: str, origin: dict) -> io.TextTable | None:
    base = f"{prefix}_upload"
    # No type= filter (ui.common.uploads says why): embedcore.io says what is wrong with a file.
    upload = st.file_uploader(
        "TXT (one text per line), CSV / TSV, JSON Lines or JSON — or Parquet / NPZ with vectors",
        key=state.widget_key(base),
        help="Texts are embedded with the model in the sidebar. A .parquet or .npz written by "
        "`python -m embedcore embed` holds texts with their vectors: the explorer shows them as they "
        f"are, up to {io.MAX_VECTOR_ROWS:,} rows and {io.MAX_VECTOR_FILE_BYTES // 2**20} MB.",
    )
    in_use = origin.get("kind") == "upload" and st.session_state.get(state.TEXTS) is not None
    if upload is None:
        # A refused file is said first, whether or not a good one came before it.
        if uploads.show_refused(base) and not in_use:
            return None
        if in_use:
            st.caption(f"Using **{md_escape(origin.get('name'))}**; upload another file to replace it.")
            return st.session_state[state.TEXTS]
        st.info("Upload a file to use its texts.", icon=":material/upload_file:")
        return None
    uploads.forget_refused(base)
    current = st.session_state.get(state.TEXTS)
    if (
        origin.get("file_id") == upload.file_id
        and current is not None
        and current.vectors is not None
        and origin.get("kind") == "upload"
    ):
        return current  # read once per upload: parsing 100k vectors again on every rerun costs seconds
    name = upload.name
    try:
        if io.is_vector_file(name):
            check_file_room(upload.size, name)
            with st.spinner(f"Reading {name}…"):
                table = io.read_vectors(upload.getvalue(), name, max_bytes=io.MAX_VECTOR_FILE_BYTES)
            set_texts(table, {"kind": "upload", "name": name, "file_id": upload.file_id})
            return table
        frame = cached.read_upload(upload.getvalue(), name)
        text_options = io.require_text_columns(frame)
    except InputError as exc:
        uploads.refuse(base, [str(exc)], name=name, kept=origin.get("name") if in_use else None)
    if origin.get("file_id") != upload.file_id:
        # Another file: its own columns are guessed afresh (the last file's "(no labels)" stayed
        # chosen for a file with a label column).
        for key in (f"{prefix}_text_col", f"{prefix}_label_col"):
            st.session_state.pop(key, None)
    if len(frame.columns) > 1:
        left, right = st.columns(2)
        text_col = left.selectbox("Text column", text_options, key=f"{prefix}_text_col")
        labels = io.label_columns(frame)
        rest = [str(c) for c in frame.columns if str(c) not in labels and str(c) != text_col]
        label_options = [_NO_LABEL] + [c for c in labels if c != text_col] + rest
        label_col = right.selectbox(
            "Label column (colours the points)",
            label_options,
            index=1 if labels and labels[0] != text_col else 0,
            key=f"{prefix}_label_col",
        )
    else:
        text_col, label_col = text_options[0], _NO_LABEL
    table = io.table_from_frame(frame, text_col, None if label_col == _NO_LABEL else label_col)
    set_texts(table, {"kind": "upload", "name": name, "file_id": upload.file_id})
    return table


def check_file_room(size: int, name: str) -> None:
    """Refuse, before reading it, a file of vectors the server has no memory left to show.

    A file of float32 vectors holds about as many bytes as its vectors take in memory; showing
    them then takes :data:`embedcore.system.WORK_BYTES_PER_VECTOR_BYTE` times that at the peak.
    """
    from embedcore.system import WORK_BYTES_PER_VECTOR_BYTE, check_memory

    check_memory(
        int(size) * WORK_BYTES_PER_VECTOR_BYTE, f"Showing the vectors of {name} ({size / 2**20:,.0f} MB)"
    )


def vectors_dir() -> Path | None:
    """The folder named by ``EMBEDCORE_VECTORS_DIR``, or None when it is unset or not a folder."""
    configured = os.environ.get(VECTORS_DIR_ENV, "").strip()
    if not configured:
        return None
    folder = Path(configured).expanduser()
    return folder if folder.is_dir() else None


def vector_files(folder: Path) -> list[str]:
    """Names of the files of vectors directly in ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and io.is_vector_file(p.name))


def _folder(prefix: str, origin: dict) -> io.TextTable | None:
    folder = vectors_dir()
    names = vector_files(folder) if folder is not None else []
    if not names:
        st.info(f"No .parquet or .npz files in the folder {VECTORS_DIR_ENV} names.", icon=":material/folder:")
        return None
    start = origin.get("name") if origin.get("kind") == "folder" and origin.get("name") in names else names[0]
    _seed(f"{prefix}_folder_file", start)
    if st.session_state[f"{prefix}_folder_file"] not in names:
        st.session_state[f"{prefix}_folder_file"] = names[0]
    name = st.selectbox(
        "File of texts with vectors",
        names,
        key=f"{prefix}_folder_file",
        help=f"Files in the server's folder {VECTORS_DIR_ENV}, as `python -m embedcore embed` writes them.",
    )
    path = folder / name
    stat = path.stat()
    with st.spinner(f"Reading {name}…"):
        table = cached.vector_file(str(path), stat.st_mtime_ns, stat.st_size)
    set_texts(table, {"kind": "folder", "name": name})
    return table


def _linked(origin: dict) -> io.TextTable | None:
    table = st.session_state.get(state.TEXTS)
    if origin.get("kind") != "link" or table is None:
        st.info("The link's texts were replaced; choose texts above.", icon=":material/link_off:")
        return None
    # The name is "texts from a link" or "saved view “…”" (ui.common.links).
    st.caption(f"Stored on this server: {md_escape(origin.get('name') or 'texts from a link')}.")
    return table


def sample_title(name: str) -> str:
    """How a sample set is named in the chooser: large ones say how large."""
    if name in io.LARGE_SAMPLES:
        return f"{name} — {io.SAMPLES[name].split(' ', 1)[0]} texts"
    return name


def _edit(prefix: str) -> io.TextTable | None:
    ss = st.session_state
    editor_key, base_key = f"{prefix}_editor", f"{prefix}_edit_base"
    if editor_key not in ss or base_key not in ss:
        # The editor's state is a list of edits against the frame it started from, so that
        # frame must stay the same while the editor lives; it restarts from the shared texts.
        current = ss.get(state.TEXTS)
        frame = current.to_frame() if current is not None and len(current) else None
        if frame is None:
            import pandas as pd

            frame = pd.DataFrame({"text": [""], "label": [""]})
        ss[base_key] = frame
    edited = st.data_editor(
        ss[base_key],
        key=editor_key,
        num_rows="dynamic",
        width="stretch",
        height=300,
        column_config={"text": st.column_config.TextColumn("text", width="large", required=True)},
    )
    has_labels = "label" in edited.columns and edited["label"].notna().any()
    table = io.table_from_frame(edited, "text", "label" if has_labels else None)
    if not len(table):
        st.info("Type at least one text in the table.", icon=":material/edit_note:")
        return None
    table.source = "edited table"
    set_texts(table, {"kind": "edit", "name": "edited table"})
    return table


def _summary(table: io.TextTable) -> None:
    parts = [f"**{len(table):,}** {noun_for(len(table), 'text')}"]
    if table.labels is not None:
        parts.append(plural(len(set(table.labels)), "label"))
    if table.dropped_blank:
        parts.append(f"{table.dropped_blank:,} blank dropped")
    if table.duplicates:
        parts.append(f"{plural(table.duplicates, 'duplicate')} (embedded once)")
    if table.truncated:
        parts.append(f"{table.truncated:,} cut off")
    if table.vectors is not None:
        parts.append(
            f"vectors included ({table.vectors.shape[1]} dimensions"
            + (f", {md_escape(table.model)}" if table.model else "")
            + ") — nothing to embed"
        )
    st.caption(" · ".join(parts))
    for warning in table.warnings:
        st.caption(f":material/warning: {md_escape(warning)}")
