using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;

namespace FleetAspire.Testing;

/// <summary>Real bearer tokens, signed with the key the test hosts are configured with.</summary>
public static class TestTokens
{
    public const string SigningKey = "fleetaspire-test-signing-key-0123456789abcdef";

    public static string User(string userId) => FleetTokens.Create(SigningKey, userId, AuthNames.UserRole, TimeSpan.FromHours(1));

    public static string Operator(string operatorId = "ops") => FleetTokens.Create(SigningKey, operatorId, AuthNames.OperatorRole, TimeSpan.FromHours(1));

    /// <summary>A well-formed token signed with another key: must be refused.</summary>
    public static string Forged(string userId) =>
        FleetTokens.Create("someone-elses-signing-key-0123456789abcdef", userId, AuthNames.OperatorRole, TimeSpan.FromHours(1));

    public static string Expired(string userId) =>
        FleetTokens.Create(SigningKey, userId, AuthNames.UserRole, TimeSpan.FromMinutes(10), DateTime.UtcNow.AddHours(-2));
}
