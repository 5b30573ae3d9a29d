# The module's dependencies load privately: a host that already loaded another assembly
# with the same name as one of ours (here an impostor QemuGuest.Protocol 0.0.0.0 in the
# default load context) neither breaks the module nor is replaced by it.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Agent = Start-LocalAgent -Kind Stock
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
}

AfterAll {
    $script:Agent | Stop-LocalAgent
}

Describe 'Private dependency loading on PowerShell 7' {
    It 'works when the host already loaded another QemuGuest.Protocol, and uses its own System.Text.Json' {
        $impostorDir = Join-Path $Agent.Directory 'impostor'
        $null = New-Item -ItemType Directory -Path $impostorDir
        # An older assembly with our dependency's exact name, loaded into the host's default
        # context before the module is imported (Roslyn ships with pwsh for Add-Type).
        $script = @"
`$ErrorActionPreference = 'Stop'
`$tree = [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree]::ParseText('[assembly: System.Reflection.AssemblyVersion("0.0.1.0")] namespace QemuGuest.Protocol { public static class Impostor { public static string Who() { return "impostor"; } } }')
`$refs = @([Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile([object].Assembly.Location), [Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile([System.Reflection.AssemblyVersionAttribute].Assembly.Location))
`$opts = [Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions]::new([Microsoft.CodeAnalysis.OutputKind]::DynamicallyLinkedLibrary)
`$comp = [Microsoft.CodeAnalysis.CSharp.CSharpCompilation]::Create('QemuGuest.Protocol', [Microsoft.CodeAnalysis.SyntaxTree[]]@(`$tree), [Microsoft.CodeAnalysis.MetadataReference[]]`$refs, `$opts)
`$fs = [IO.File]::Create('$impostorDir/QemuGuest.Protocol.dll')
try { `$result = `$comp.Emit([IO.Stream]`$fs) } finally { `$fs.Dispose() }
if (-not `$result.Success) { throw (`$result.Diagnostics -join '; ') }
`$impostor = [System.Reflection.Assembly]::LoadFrom('$impostorDir/QemuGuest.Protocol.dll')
Import-Module '$env:QEMUGUEST_MODULE_PATH'
`$s = New-VMGuestSession -ConnectionString '$($Agent.ConnectionString)'
`$info = Invoke-VMGuestRpc -Session `$s guest-info
'VERSION=' + `$info.version
foreach (`$a in [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'QemuGuest.Protocol', 'System.Text.Json' }) {
    'ALC=' + `$a.GetName().Name + '|' + `$a.GetName().Version + '|' + [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$a).ToString() + '|' + `$a.Location
}
'IMPOSTOR=' + `$impostor.GetType('QemuGuest.Protocol.Impostor').GetMethod('Who').Invoke(`$null, @())
`$s | Remove-VMGuestSession -Confirm:`$false
"@
        $out = @(& $Pwsh -NoProfile -NonInteractive -Command $script 2>&1)
        $all = $out -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $all
        ($out -match '^VERSION=\d') | Should -Not -BeNullOrEmpty -Because $all
        $protocol = @($out -match '^ALC=QemuGuest\.Protocol\|')
        $protocol.Count | Should -Be 2 -Because $all
        ($protocol -match '\|0\.0\.1\.0\|.*Default') | Should -Not -BeNullOrEmpty -Because $all
        ($protocol -match 'QemuGuest dependency context.*Dependencies/QemuGuest\.Protocol\.dll$') | Should -Not -BeNullOrEmpty -Because $all
        # The module's System.Text.Json is its own copy from Dependencies/, next to the host's.
        $json = @($out -match '^ALC=System\.Text\.Json\|')
        ($json -match 'QemuGuest dependency context.*Dependencies/System\.Text\.Json\.dll$') | Should -Not -BeNullOrEmpty -Because $all
        $out | Should -Contain 'IMPOSTOR=impostor'
    }

    It 'keeps System.Text.Json out of the module assembly''s own references' {
        # Only the private context may bind System.Text.Json; the module assembly itself must not.
        $refs = & $Pwsh -NoProfile -NonInteractive -Command "[Reflection.Assembly]::LoadFile('$env:QEMUGUEST_MODULE_PATH/QemuGuest.Cmdlets.dll').GetReferencedAssemblies().Name"
        $refs | Should -Contain 'QemuGuest.Protocol'
        $refs | Should -Not -Contain 'System.Text.Json'
    }
}
