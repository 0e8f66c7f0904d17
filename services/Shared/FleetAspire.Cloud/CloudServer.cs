namespace FleetAspire.Cloud;

/// <param name="Running">True once the server has booted (Hetzner status <c>running</c>).</param>
public sealed record CloudServer(string Id, string Name, string? Ipv4, bool Running);
