"""The peer watchdog on socket pairs: beats keep peers alive, silence or a closed link loses them, "bye" ends the
watch quietly, and process 0 tells the others which peer it lost."""

import socket
import threading
import time

from galaxy_dl.runs.watchdog import Watchdog


class Lost:
    def __init__(self):
        self.errors, self.event = [], threading.Event()

    def __call__(self, error):
        self.errors.append(str(error))
        self.event.set()


def pair(me, n, peer, timeout):
    ours, theirs = socket.socketpair()
    lost = Lost()
    return Watchdog({peer: ours}, me, n, timeout, lost).start(), theirs, lost


def test_a_peer_that_beats_is_kept_then_one_that_falls_silent_is_lost_by_name():
    _, theirs, lost = pair(0, 3, 2, timeout=0.6)
    try:
        for _ in range(8):  # 1.2 s of beats, twice the timeout
            theirs.send(b"beat\n")
            time.sleep(0.15)
        assert lost.errors == []
        assert lost.event.wait(3)
        assert lost.errors == ["lost contact with process 2 of 3: nothing heard from it for 0.6 s (--peer-timeout): "
                               "it hung, or the network between the processes failed"]
    finally:
        theirs.close()


def test_a_link_closed_without_bye_is_a_lost_peer_at_once():
    _, theirs, lost = pair(1, 2, 0, timeout=30)
    theirs.close()
    assert lost.event.wait(3)
    assert lost.errors[0].startswith("lost contact with process 0 of 2: it ended before training did")


def test_bye_then_close_is_not_a_loss_and_finish_says_bye():
    _, theirs, lost = pair(0, 2, 1, timeout=0.5)
    theirs.send(b"beat\nbye\n")
    theirs.close()
    time.sleep(1.5)
    assert lost.errors == []
    dog2, theirs2, lost2 = pair(1, 2, 0, timeout=30)
    dog2.finish()
    theirs2.settimeout(5)
    heard = b""
    while chunk := theirs2.recv(4096):
        heard += chunk
    assert heard.endswith(b"bye\n") and lost2.errors == []


def test_process_0_tells_the_others_which_peer_it_lost_and_they_name_it():
    a0, a1 = socket.socketpair()  # process 0 <-> process 1
    b0, b1 = socket.socketpair()  # process 0 <-> process 2
    zero, one = Lost(), Lost()
    Watchdog({1: a0, 2: b0}, 0, 3, 30, zero).start()
    Watchdog({0: a1}, 1, 3, 30, one).start()
    b1.close()  # process 2 dies
    assert zero.event.wait(3) and one.event.wait(3)
    assert zero.errors[0].startswith("lost contact with process 2 of 3: it ended")
    assert one.errors == ["lost contact with process 2 of 3: process 0 lost contact with it"]
