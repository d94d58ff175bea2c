"`atomic_write` under a real fault: a full filesystem (a 64 KiB tmpfs, mounted as root) keeps the previous file and leaves no temporary file."
import errno, json, subprocess
from pathlib import Path

import pytest

from ft_pipeline.core import atomic_write, write_json


@pytest.fixture
def small_fs(tmp_path):
    d = tmp_path/'small'; d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f'cannot mount a tmpfs here (needs root): {r.stderr.strip()}')
    yield d
    subprocess.run(['umount', str(d)], check=True)


def test_full_disk_keeps_the_previous_file(small_fs):
    p = write_json(small_fs/'reports'/'eval.json', {'ok': 1})
    with pytest.raises(OSError) as e: atomic_write(p, 'x' * 200_000)
    assert e.value.errno == errno.ENOSPC
    assert json.loads(p.read_text()) == {'ok': 1}
    assert [q.name for q in p.parent.iterdir()] == ['eval.json']
    atomic_write(p, 'fits')   # the space of the failed attempt was given back
    assert p.read_text() == 'fits'
