"""The crawl stage (see README "Architecture").

`runs` registers its repair with gongkai.db.after_open on import (crawl runs whose process is gone are marked
interrupted by any command that opens the database); the package imports it so that holds for every command.
"""

from gongkai.crawler import runs as _runs  # noqa: F401 - registers runs.mark_dead_runs
