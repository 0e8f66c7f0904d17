using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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

        builder.Services.AddHttpClient<ICloudProvider, HetznerCloudProvider>((sp, http) =>
        {
            var o = sp.GetRequiredService<IOptions<CloudOptions>>().Value.Hetzner;
            http.BaseAddress = o.BaseUrl;
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", o.Token);
        });
        return builder;
    }
}
