namespace FleetAspire.Cloud;

public sealed record CloudImage(string Id, long? SizeBytes, bool Available);
