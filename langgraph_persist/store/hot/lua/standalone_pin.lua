-- uses: io_packed common index_standalone tag
TOP = K(); local t = tag_block(); local ttl = tonumber(A()); local pin = flag()
pin_tag(t, ttl, pin)
return 1
