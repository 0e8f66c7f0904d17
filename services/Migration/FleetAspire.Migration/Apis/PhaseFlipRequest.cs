namespace FleetAspire.Migration.Apis;

/// <param name="ConfirmOneWay">Required (true) for the one-way flip to Contracted: the caller has read that it cannot be undone.</param>
public sealed record PhaseFlipRequest(string? Target, string? Reason, bool Force = false, bool ConfirmOneWay = false);
