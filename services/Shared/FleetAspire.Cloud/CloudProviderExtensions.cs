using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace FleetAspire.Cloud;

public static class CloudProviderExtensions
{
    /// <summary>Hetzner when <c>Cloud:Hetzner:Token</c> is set, otherwise the simulator (docs/adr/0004).</summary>
    public static IHostApplicationBuilder AddCloudProvider(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CloudOptions>().BindConfiguration(CloudOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);

        var token = builder.Configuration[$"{CloudOptions.Section}:Hetzner:Token"];
        if (string.IsNullOrWhiteSpace(token))
        {
            builder.Services.AddSingleton<SimulatedCloudProvider>();
            builder.Services.AddSingleton<ICloudProvider>(sp => sp.GetRequiredService<SimulatedCloudProvider>());
            return builder;
        }

        // RemoveAllResilienceHandlers is marked experimental; it is the documented way to replace the defaults.
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient<ICloudProvider, HetznerCloudProvider>((sp, http) =>
        {
            var o = sp.GetRequiredService<IOptions<CloudOptions>>().Value.Hetzner;
            http.BaseAddress = o.BaseUrl;
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", o.Token);
        })
        // Creating a server is not idempotent: a retried POST after a lost answer would start a second, billable
        // server. The client retries reads only (DELETE counts as unsafe too); callers retry the rest.
        .RemoveAllResilienceHandlers()
        .AddStandardResilienceHandler(o => o.Retry.DisableForUnsafeHttpMethods());
#pragma warning restore EXTEXP0001
        return builder;
    }
}
