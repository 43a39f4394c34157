from index import open_index


def test_fake_index_answers(fake_index):
    index_dir, content_dir, embedder = fake_index
    idx = open_index(index_dir, content_dir=content_dir, embedder=embedder)
    result = idx.search("lasso ridge penalty", k=3)
    assert result.hits[0].question_id == "regularization"
