"""What can be wrong with a dataset on disk, one class each, so that the command line answers each
in one line (ali_bench/cli.py) and the readers, the checksum checks and data preparation share them."""


class DatasetMissing(FileNotFoundError):
    """A dataset file is not where it should be; the message says where to put it or how to download it."""


class DatasetCorrupt(ValueError):
    """A dataset file is there but cannot be read as its format; the message names the file and the fix."""


class ChecksumMismatch(DatasetCorrupt):
    """A dataset file is readable but is not the published file, or a split has another size than published."""


class DownloadFailed(OSError):
    """``images.download: true`` could not fetch a dataset; the message names the URL and the manual route."""
