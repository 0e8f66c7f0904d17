namespace FleetAspire.Migration.Apis;

/// <summary><c>apply</c> false (the default) is a dry run: the report says what would be written, nothing is.</summary>
public sealed record RepairRequest(bool Apply = false);
