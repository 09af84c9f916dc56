"""The task and user element lists, as the resource declarations give them (for older tests)."""

from proxy.resources.directory import USER_SHAPE
from proxy.resources.task import TASK_SHAPE

TASK_FIELDS = TASK_SHAPE.element_names
TASK_WRITABLE_FIELDS = TASK_SHAPE.writable
TASK_READ_ONLY_FIELDS = TASK_SHAPE.read_only
USER_FIELDS = USER_SHAPE.element_names
