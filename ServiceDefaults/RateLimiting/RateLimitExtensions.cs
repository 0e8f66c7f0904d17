using System.Globalization;
using System.Threading.RateLimiting;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.ServiceDefaults.RateLimiting;

/// <summary>
/// ASP.NET Core rate limiting, partitioned per caller: per user (the token's subject) for the APIs, per machine (its
/// signed id header) for heartbeats. Operators and anonymous probes are not limited here: operator tokens are few and
/// trusted, probes are cheap. A refused request is 429 ProblemDetails with <c>Retry-After</c>.
/// </summary>
public static class RateLimitExtensions
{
    /// <summary>The heartbeat route and header, known here without a reference to the machines service.</summary>
    private const string HeartbeatsPath = "/api/machines/heartbeats";
    private const string MachineHeader = "X-Fleet-Machine-Id";

    public static IHostApplicationBuilder AddFleetRateLimiting(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (http.Request.Path.StartsWithSegments(HeartbeatsPath))
                {
                    var machine = http.Request.Headers[MachineHeader].ToString();
                    return RateLimitPartition.GetFixedWindowLimiter("machine:" + machine, _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = options.HeartbeatsPerMachinePerMinute,
                        Window = TimeSpan.FromMinutes(1),
                        QueueLimit = 0,
                    });
                }

                if (http.User.Identity?.IsAuthenticated == true && !http.User.IsOperator())
                {
                    return RateLimitPartition.GetTokenBucketLimiter("user:" + http.User.UserId(), _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.PerUserBurst,
                        TokensPerPeriod = options.PerUserPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    });
                }

                return RateLimitPartition.GetNoLimiter(string.Empty);
            });
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                var response = context.HttpContext.Response;
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                var problems = context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
                await problems.WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = "This caller has used its share of requests for now; retry after the time in Retry-After.",
                    },
                });
            };
        });
        return builder;
    }

    /// <summary>
    /// Refuses a body larger than <see cref="RateLimitOptions.MaxRequestBodyBytes"/> with 413 ProblemDetails before
    /// anything reads it. A declared length is judged at once (the server then drains the unread body, so the client
    /// always gets the answer instead of a reset connection); a body without one is cut off at the limit as it is read.
    /// </summary>
    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var limit = http.RequestServices.GetRequiredService<RateLimitOptions>().MaxRequestBodyBytes;
        if (http.Request.ContentLength > limit)
        {
            http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "The request body is too large",
                    Detail = $"Request bodies are at most {limit} bytes.",
                },
            });
            return;
        }

        if (http.Request.ContentLength is null && http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        await next(http);
    });
}
