-- Issue 29: every signed-in request reads its device's actors (the device context). Without an
-- index on device_id that read scanned every actor of the county: 20,000 phones, 20,000 rows a
-- request. Covering, in the order the context reads them.
CREATE INDEX device_actors_device ON device_actors (device_id, actor)
