"""The domain core of Xinfang Records: models, envelope encryption, access policy, audit
trail and the services that change records. Never imports Flask."""
