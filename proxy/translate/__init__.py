"""Pure v1 <-> v2 translation rules: no I/O, no aiohttp.

- `errors`: InvalidField (the client's fault -> v1 400), UpstreamDataError (v2's -> 502).
- `dates`: dueDate/dueDateTime <-> dueOn/dueTime, time zones and DST, timestamps.
- `tasks`: the task resource, one small rule per field, `task_to_v2` / `task_to_v1`.
- `paging`: v1 start/limit over v2 pages of 100.
- `users`: v1 users and category names from v2, and the owner/category id maps.
"""
