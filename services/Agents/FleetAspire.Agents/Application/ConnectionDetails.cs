namespace FleetAspire.Agents.Application;

public sealed record ConnectionDetails(string Ipv4, int Port, string SharedKey);
