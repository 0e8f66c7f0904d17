using System.Security.Claims;
using System.Text;
using FleetAspire.Names;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FleetAspire.ServiceDefaults.Auth;

/// <summary>Mints and validates the project's bearer tokens. The token tool, the tests and the bench use the same code.</summary>
public static class FleetTokens
{
    public const string SubjectClaim = "sub";
    /// <summary>HMAC-SHA256 wants at least 256 bits of key.</summary>
    public const int MinimumKeyBytes = 32;

    /// <param name="issuedAt">Defaults to now; tests pass a past instant to mint an expired token.</param>
    public static string Create(string signingKey, string subject, string role, TimeSpan lifetime, DateTime? issuedAt = null)
    {
        var now = issuedAt ?? DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AuthNames.Issuer,
            Audience = AuthNames.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            Subject = new ClaimsIdentity([new Claim(SubjectClaim, subject), new Claim(AuthNames.RoleClaim, role)]),
            SigningCredentials = new SigningCredentials(Key(signingKey), SecurityAlgorithms.HmacSha256),
        });
    }

    public static TokenValidationParameters ValidationParameters(string signingKey) => new()
    {
        ValidIssuer = AuthNames.Issuer,
        ValidAudience = AuthNames.Audience,
        IssuerSigningKey = Key(signingKey),
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        NameClaimType = SubjectClaim,
        RoleClaimType = AuthNames.RoleClaim,
        ClockSkew = TimeSpan.FromSeconds(30),
    };

    private static SymmetricSecurityKey Key(string signingKey) => new(Encoding.UTF8.GetBytes(signingKey));
}
