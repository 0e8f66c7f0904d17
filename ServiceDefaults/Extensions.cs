using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every FleetAspire service shares: telemetry, health, discovery, resilience, identity and error shapes.
/// </summary>
public static class ServiceDefaultsExtensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        builder.AddFleetProblemDetails();
        builder.AddFleetAuthentication();
        FleetAspire.ServiceDefaults.RateLimiting.RateLimitExtensions.AddFleetRateLimiting(builder);
        FleetAspire.ServiceDefaults.Secrets.SecretFingerprint.AddSecretFingerprint(builder);
        FleetAspire.ServiceDefaults.OpenApi.OpenApiExtensions.AddFleetOpenApi(builder);
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                // Every meter of ours and of the libraries we trace, named once (TelemetryNames).
                .AddMeter(TelemetryNames.Meter, TelemetryNames.MassTransitSource, TelemetryNames.NpgsqlSource))
            .WithTracing(tracing => tracing
                .AddSource(TelemetryNames.ActivitySource, TelemetryNames.MassTransitSource, TelemetryNames.NpgsqlSource)
                .AddAspNetCoreInstrumentation(o =>
                    // Probes would drown the traces operators look for.
                    o.Filter = ctx => !ctx.Request.Path.StartsWithSegments(HealthEndpointPath)
                                      && !ctx.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// <c>/alive</c> answers while the process runs; <c>/health</c> also checks the database and the broker.
    /// Mapped in every environment: operators and the AppHost probe them.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath).AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") })
            .AllowAnonymous();
        return app;
    }

    /// <summary>The middleware order every service uses: errors first, then identity, then limits per identity.</summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        FleetAspire.ServiceDefaults.RateLimiting.RateLimitExtensions.UseRequestBodyLimit(app);
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.MapDefaultEndpoints();
        FleetAspire.ServiceDefaults.OpenApi.OpenApiExtensions.MapFleetOpenApi(app);
        return app;
    }
}
