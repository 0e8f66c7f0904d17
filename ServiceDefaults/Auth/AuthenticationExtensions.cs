using System.Security.Claims;
using System.Text;
using FleetAspire.Names;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace FleetAspire.ServiceDefaults.Auth;

public static class AuthenticationExtensions
{
    /// <summary>
    /// JWT bearer tokens signed with the shared HMAC key <c>Auth:SigningKey</c> (docs/adr/0005). Every endpoint needs
    /// an authenticated caller unless it opts out; operator-only endpoints add <see cref="AuthNames.OperatorPolicy"/>.
    /// </summary>
    public static IHostApplicationBuilder AddFleetAuthentication(this IHostApplicationBuilder builder)
    {
        var signingKey = builder.Configuration[AuthNames.SigningKeyConfig];
        if (string.IsNullOrWhiteSpace(signingKey) || Encoding.UTF8.GetByteCount(signingKey) < FleetTokens.MinimumKeyBytes)
        {
            throw new InvalidOperationException(
                $"Configuration '{AuthNames.SigningKeyConfig}' must hold a signing key of at least {FleetTokens.MinimumKeyBytes} bytes.");
        }

        if (signingKey == AuthNames.DevelopmentSigningKey && !builder.Environment.IsDevelopment())
        {
            // The committed key signs tokens anybody can mint: refuse to serve with it anywhere but a developer's machine.
            throw new InvalidOperationException(
                $"'{AuthNames.SigningKeyConfig}' is the committed development key, and the environment is '{builder.Environment.EnvironmentName}'. " +
                "Outside Development, give the AppHost a secret key (parameter 'auth-signing-key': user secrets, or the environment variable " +
                "Parameters__auth-signing-key from your secret store), or set Auth__SigningKey for the service.");
        }

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = FleetTokens.ValidationParameters(signingKey);
                // A token must name who calls: every owner check compares against it, and "" would match rows owned by "".
                o.Events = new JwtBearerEvents
                {
                    OnTokenValidated = context =>
                    {
                        if (string.IsNullOrWhiteSpace(context.Principal?.FindFirstValue(FleetTokens.SubjectClaim)))
                        {
                            context.Fail("The token has no subject.");
                        }

                        return Task.CompletedTask;
                    },
                };
            });

        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AuthNames.OperatorPolicy, p => p.RequireAuthenticatedUser().RequireRole(AuthNames.OperatorRole));
        return builder;
    }

    /// <summary>The caller's user id (the token's <c>sub</c>).</summary>
    public static string UserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(FleetTokens.SubjectClaim)
        ?? throw new InvalidOperationException("Authenticated principal without a subject.");

    public static bool IsOperator(this ClaimsPrincipal principal) => principal.IsInRole(AuthNames.OperatorRole);

    /// <summary>The owner a query is restricted to: the caller's user id, or null for operators (who see everything).</summary>
    public static string? OwnerFilter(this ClaimsPrincipal principal) => principal.IsOperator() ? null : principal.UserId();
}
