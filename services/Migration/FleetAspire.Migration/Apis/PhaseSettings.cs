namespace FleetAspire.Migration.Apis;

public sealed record PhaseSettings(TimeSpan QuietPeriod, TimeSpan ContractSoak, TimeSpan OldCodeWindow);
