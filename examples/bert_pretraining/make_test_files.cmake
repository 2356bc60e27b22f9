# Writes the small files of the pretraining example's tests (examples/CMakeLists.txt):
#   corpus.txt        SST-2 dev sentences without labels, one document per line
#   masked.txt        five of them with one word replaced by [MASK]
#   empty.txt         no text at all (blank lines only)
#   short.txt         one short sentence: less than one block of 32 tokens
#   no_mask_vocab.txt a vocabulary without [MASK]
#   config_10.json    a BERT config with vocab_size 10 (the vocabulary above has 7 tokens)
#   config_7.json     the same with vocab_size 7
#   config_small.json the same without vocab_size (taken from the vocabulary)
# Usage: cmake -DSRC=examples/data/sst2/dev.tsv -DOUT=<dir> -P make_test_files.cmake
file(STRINGS "${SRC}" rows)
list(POP_FRONT rows)  # the header
set(corpus "")
set(masked "")
set(n 0)
foreach(row IN LISTS rows)
  string(REGEX REPLACE "\t[01]$" "" sentence "${row}")
  string(APPEND corpus "${sentence}\n")
  if(n LESS 5)
    string(REGEX REPLACE "^([^ ]+ [^ ]+) [^ ]+" "\\1 [MASK]" with_mask "${sentence}")
    string(APPEND masked "${with_mask}\n")
  endif()
  math(EXPR n "${n} + 1")
endforeach()
file(WRITE "${OUT}/corpus.txt" "${corpus}")
file(WRITE "${OUT}/masked.txt" "${masked}")
file(WRITE "${OUT}/empty.txt" "\n  \n\n")
file(WRITE "${OUT}/short.txt" "a short text .\n")
file(WRITE "${OUT}/no_mask_vocab.txt" "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\nc\n")
set(config "\"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 16, \"max_position_embeddings\": 64")
file(WRITE "${OUT}/config_10.json" "{\"vocab_size\": 10, ${config}}\n")
file(WRITE "${OUT}/config_7.json" "{\"vocab_size\": 7, ${config}}\n")
file(WRITE "${OUT}/config_small.json" "{${config}}\n")
