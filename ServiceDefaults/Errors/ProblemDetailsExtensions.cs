using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.ServiceDefaults.Errors;

public static class ProblemDetailsExtensions
{
    /// <summary>Every error leaves a service as RFC 9457 ProblemDetails; infrastructure outages as 503.</summary>
    public static IHostApplicationBuilder AddFleetProblemDetails(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
            ctx.ProblemDetails.Extensions.TryAdd("traceId", ctx.HttpContext.TraceIdentifier));
        builder.Services.AddExceptionHandler<InfrastructureUnavailableExceptionHandler>();
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Throw on malformed input in every environment so BadRequestExceptionHandler can say what was wrong.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return builder;
    }
}
