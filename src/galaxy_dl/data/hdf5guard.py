"""HDF5 inputs confined to themselves and sized before they are read.

An HDF5 file can point outside itself: an external link opens another file, external storage
and virtual datasets read their values from other files (``/etc/passwd`` as a matrix). It can
also declare a dataset far larger than what it stores (chunks never written read back as the
fill value). :func:`check` walks every link without following any and refuses all of these in
one line, before Keras, anndata or our own readers see the file.
"""

from galaxy_dl.limits import MAX_HDF5_RATIO, MAX_WHOLE_BYTES, RATIO_FLOOR_BYTES


def check(f, source: str, error: type, read_whole: tuple[str, ...] | None = None) -> None:
    """Refuse what would make reading ``f`` (an open ``h5py.File``) touch another file or spend memory it does not
    hold. ``read_whole`` names the path prefixes of the datasets that will be read whole (None: all of them),
    which must each be at most MAX_WHOLE_BYTES; the others are read in blocks."""
    import h5py

    seen = set()
    stack = [("", f)]
    while stack:
        prefix, group = stack.pop()
        for name in group:
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise error(
                    f"refused: {path} is a link to another file ({link.filename}); inputs must be self-contained",
                    source=source,
                )
            if isinstance(link, h5py.SoftLink):
                continue  # a path inside this file: what it names is checked where it is stored
            obj = group[name]
            key = h5py.h5o.get_info(obj.id).addr  # hard links may make cycles
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                stack.append((path, obj))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, path, source, error, read_whole)


def _check_dataset(dataset, path: str, source: str, error: type, read_whole) -> None:
    import h5py

    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise error(
            f"refused: dataset {path} is a virtual dataset (its values live in other files); "
            "inputs must be self-contained",
            source=source,
        )
    if plist.get_external_count() > 0:
        raise error(
            f"refused: dataset {path} keeps its values in an external file; inputs must be self-contained",
            source=source,
        )
    declared = dataset.size * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > RATIO_FLOOR_BYTES and stored * MAX_HDF5_RATIO < declared:
        raise error(f"refused: dataset {path} declares {declared:,} bytes but stores {stored:,}", source=source)
    whole = read_whole is None or any(path == p or path.startswith(p + "/") for p in read_whole)
    if whole and declared > MAX_WHOLE_BYTES:
        raise error(
            f"refused: dataset {path} declares {declared:,} bytes (more than {MAX_WHOLE_BYTES:,})", source=source
        )
