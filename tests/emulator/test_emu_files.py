"""The ch28 file system commands (manual v2.0): AT+FSWF, FSRF, FSRFEX, FSDF, FSLIST, FSFS,
FSLS, FSRN, FSFAT, byte for byte on the emulated module's port."""

from __future__ import annotations

import asyncio

from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, EmuFactory, Port, pattern

from n58aio.emulator import Emulator
from n58aio.emulator.fs_commands import xor_checksum

PROMPT = b"\r\n>"
DATA = b"start0123456789" + b"x" * 1009  # 1024 bytes, as in the manual's example


async def emu(make_emu: EmuFactory, **options: object) -> tuple[Emulator, Port]:
    emulator, port = await make_emu(echo=False, **options)
    for name in ("ca.pem", "bad-ca.pem", "cc.pem", "ck.pem"):
        (emulator.fs_root / name).unlink(missing_ok=True)
    return emulator, port


async def write(port: Port, command: bytes, data: bytes) -> None:
    port.send(command + b"\r")
    await port.expect(PROMPT)
    port.send(data)
    await port.expect(OK)


async def test_write_read_and_append(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu)
    await write(port, b'AT+FSWF="test.txt",1,1024,10000', DATA)
    assert (emulator.fs_root / "test.txt").read_bytes() == DATA
    await port.cmd(b'AT+FSRF="test.txt",0,10', b"\r\n+FSRF: 10,start01234\r\nOK\r\n", echo=False)
    await port.cmd(b'AT+FSRF="test.txt",0,0', b"\r\n+FSRF: 0,\r\nOK\r\n", echo=False)
    await port.cmd(b'AT+FSRF="test.txt",0,1025', ERROR, echo=False)
    tail = b"\r\n+FSRF: 20,tart0123456789xxxxxx\r\nOK\r\n"
    await port.cmd(b'AT+FSRF="test.txt",1,20,1', tail, echo=False)
    await port.cmd(b'AT+FSRF="test.txt",1,10,1025', ERROR, echo=False)
    await port.cmd(b'AT+FSRF="none.txt",0,1', ERROR, echo=False)
    await write(port, b"AT+FSWF=test.txt,1,3,1000", b"\r\n\x00")
    await port.cmd(b"AT+FSFS=test.txt", b"\r\n+FSFS: 1027\r\nOK\r\n", echo=False)
    await write(port, b"AT+FSWF=test.txt,0,2,1000", b"ab")
    await port.cmd(b"AT+FSFS=test.txt", b"\r\n+FSFS: 2\r\nOK\r\n", echo=False)


async def test_fsrfex_checksum_and_binary_content(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu)
    content = pattern(3000)
    (emulator.fs_root / "dir").mkdir()
    (emulator.fs_root / "dir" / "b.bin").write_bytes(content)
    piece = content[100:1100]
    expected = b"\r\n+FSRFEX: 1000,%d," % xor_checksum(piece) + piece + b"\r\nOK\r\n"
    await port.cmd(b'AT+FSRFEX="/dir/b.bin",1,1,1000,100', expected, echo=False)
    await port.cmd(b'AT+FSRFEX="/dir/b.bin",1,0,0', ERROR, echo=False)  # size 0 refused
    await port.cmd(b'AT+FSRFEX="/dir/b.bin",2,0,10', ERROR, echo=False)  # checksum mode 2
    emulator.faults.corrupt_next_read()
    port.send(b'AT+FSRFEX="/dir/b.bin",1,0,10\r')
    answer = await port.read_until(OK)
    header = b"\r\n+FSRFEX: 10,%d," % xor_checksum(content[:10])
    assert answer.startswith(header)
    garbled = answer[len(header) : len(header) + 10]
    assert garbled != content[:10] and xor_checksum(garbled) != xor_checksum(content[:10])


async def test_write_timeout_keeps_nothing(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu)
    port.send(b"AT+FSWF=t.txt,0,100,300\r")
    await port.expect(PROMPT)
    port.send(b"only a few")
    await port.expect(b"\r\n+FSWF: Timeout!\r\n", timeout=3)
    assert not (emulator.fs_root / "t.txt").exists()
    await port.cmd(b"AT", OK, echo=False)  # back to commands


async def test_bad_parameters_and_names(make_emu: EmuFactory) -> None:
    _, port = await emu(make_emu)
    for line in (
        b"AT+FSWF=test.txt,1,1024,240001",
        b"AT+FSWF=test.txt,2,10,1000",
        b"AT+FSWF=test.txt,0,1048577,1000",
        b"AT+FSWF=" + b"n" * 121 + b",0,1,1000",
        b"AT+FSWF=/sdcard0/test.txt,1,10,6000",
        b"AT+FSWF=../up.txt,0,1,1000",
    ):
        await port.cmd(line, ERROR, echo=False)
    await write(port, b"AT+FSWF=" + b"n" * 120 + b",0,1,1000", b"z")


async def test_full_disk_refused_before_the_prompt(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu, fs_capacity=5000)
    await port.cmd(b"AT+FSLS?", b"\r\n+FSLS: 5000\r\nOK\r\n", echo=False)
    await write(port, b"AT+FSWF=a.bin,0,501,1000", b"a" * 501)
    await port.cmd(b"AT+FSLS?", b"\r\n+FSLS: 4000\r\nOK\r\n", echo=False)  # two 500-byte blocks
    await port.cmd(b"AT+FSWF=b.bin,0,4001,1000", ERROR, echo=False)
    await port.quiet(0.2)
    await write(port, b"AT+FSWF=b.bin,0,4000,1000", b"b" * 4000)
    await port.cmd(b"AT+FSLS?", b"\r\n+FSLS: 0\r\nOK\r\n", echo=False)
    await port.cmd(b"AT+FSLS=/sdcard0", b"\r\n+FSLS: DiskInfo Not Right!\r\n", echo=False)
    await port.cmd(b"AT+FSFAT", OK, echo=False)
    await port.cmd(b"AT+FSLS?", b"\r\n+FSLS: 5000\r\nOK\r\n", echo=False)
    assert list(emulator.fs_root.iterdir()) == []


async def test_list_size_rename_delete(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu)
    (emulator.fs_root / "i.amr").write_bytes(b"a" * 6181)
    (emulator.fs_root / "file.txt").write_bytes(b"f" * 6000)
    (emulator.fs_root / "dir").mkdir()
    (emulator.fs_root / "dir" / "test.txt").write_bytes(b"t" * 10)
    await port.cmd(b"AT+FSLIST?", b"\r\n/dir\r\nfile.txt,6000\r\ni.amr,6181\r\nOK\r\n", echo=False)
    await port.cmd(b"AT+FSLIST=/dir", b"\r\n+FSLIST: /dir/test.txt,10\r\nOK\r\n", echo=False)
    await port.cmd(b'AT+FSFS="/dir/test.txt"', b"\r\n+FSFS: 10\r\nOK\r\n", echo=False)
    await port.cmd(b'AT+FSFS="123.txt"', ERROR, echo=False)
    await port.cmd(b'AT+FSRN="file.txt","i.amr"', OK, echo=False)  # replaces i.amr
    assert (emulator.fs_root / "i.amr").read_bytes() == b"f" * 6000
    await port.cmd(b'AT+FSRN="test1.txt","dst.txt"', ERROR, echo=False)
    await port.cmd(b'AT+FSDF="123.txt"', ERROR, echo=False)
    await port.cmd(b'AT+FSDF="/dir/test.txt"', OK, echo=False)
    await port.cmd(b'AT+FSDF="/dir"', OK, echo=False)
    await port.cmd(b"AT+FSLIST?", b"\r\ni.amr,6000\r\nOK\r\n", echo=False)


async def test_files_persist_in_the_fs_directory(make_emu: EmuFactory) -> None:
    emulator, port = await emu(make_emu)
    await write(port, b"AT+FSWF=keep.bin,0,4,1000", b"\x00\r\n\xff")
    root = emulator.fs_root
    await emulator.close()
    again, port2 = await make_emu(echo=False, fs_root=root)
    await port2.cmd(b"AT+FSRF=keep.bin,0,4", b"\r\n+FSRF: 4,\x00\r\n\xff\r\nOK\r\n", echo=False)
    await asyncio.sleep(0)
    assert again.fs_root == root
