namespace FleetAspire.Names;

/// <summary>Identity vocabulary shared by the services, the token tool and the tests.</summary>
public static class AuthNames
{
    public const string Issuer = "fleetaspire";
    public const string Audience = "fleetaspire-api";
    public const string RoleClaim = "role";
    public const string OperatorRole = "operator";
    public const string UserRole = "user";
    /// <summary>Authorization policy for operator-only endpoints (pool target, migration control).</summary>
    public const string OperatorPolicy = "operator";
    /// <summary>Configuration key of the HMAC key that signs and validates bearer tokens.</summary>
    public const string SigningKeyConfig = "Auth:SigningKey";

    /// <summary>
    /// The signing key committed for local development (AppHost/appsettings.Development.json). Public, so no service
    /// starts with it outside the Development environment (docs/adr/0005).
    /// </summary>
    public const string DevelopmentSigningKey = "fleetaspire-development-signing-key-not-for-production-use";
}
