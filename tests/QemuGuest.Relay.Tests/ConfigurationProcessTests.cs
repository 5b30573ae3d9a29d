using System.Threading.Tasks;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class ConfigurationProcessTests
{
    [Fact]
    public async Task Bad_configuration_is_refused_at_start_with_every_problem()
    {
        using var dir = new TempDir();
        string config = dir["bad.json"];
        await System.IO.File.WriteAllTextAsync(config, "{\"Relay\": {\"RuntimeDirectory\": \"" + dir["rt"] + "\", \"Vms\": {\"a/b\": {\"Agent\": \"/x\"}, \"ok\": {\"Agent\": \"\"}}, \"Limits\": {\"MaxDepth\": 1}}}");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(30000));
        Assert.Equal(2, p.ExitCode);
        string text = await stderr + await stdout;
        Assert.Contains("a/b", text);
        Assert.Contains("Agent must name", text);
        Assert.Contains("MaxDepth", text);
        Assert.False(System.IO.Directory.Exists(dir["rt"]));
    }
}
