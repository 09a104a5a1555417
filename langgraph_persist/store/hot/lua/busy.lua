-- Redis Cluster: whether a writer's queue (KEYS[1]) is non-empty or leased (KEYS[2]).
if redis.call('LLEN', KEYS[1]) > 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
return 0
