"""The whole generated corpus served over HTTP: remote verdicts equal local ones, and
what each scan cost is what the server sent."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from tests.corpus import Corpus
from tests.support.remote import same_verdict
from tests.support.servers import LoopbackServer
from torchvet.many import scan_many
from torchvet.scan import scan_file


def test_corpus_over_http_matches_local(corpus: Corpus, server: LoopbackServer) -> None:
    files = corpus.files
    urls = [server.add(f"corpus/{r.id}/{r.path.name}", r.path) for r in files]
    remote = list(scan_many(urls))
    assert [r.path for r in remote] == urls  # one result per file, in order
    differ = []
    for record, result in zip(files, remote, strict=True):
        local = scan_file(record.path)
        if not same_verdict(result.to_json(), local.to_json()):
            differ.append((record.id, local.verdict.value, result.verdict.value))
        served = server.sent(unquote(urlsplit(result.path).path))
        assert result.bytes_read == served, record.id
        assert 0 < result.bytes_read <= result.size or result.size == 0
    assert not differ
