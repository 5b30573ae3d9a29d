# PowerShell Direct into a Windows guest (issue 20), under Wine: our win-x64 agent (isa-serial,
# as in WindowsGuest.Tests.ps1) starts a Windows PowerShell in server mode, the console host of
# PowerShell 7.6 (tests/QemuGuest.WinePwsh: UnmanagedPSEntry.Start, what pwsh.exe runs, published
# self-contained for win-x64), and New-VMGuestPSSession carries PowerShell's remoting protocol to
# it over exec-write / exec-read.
#
# W^X is off for the agent and so for the guest PowerShell it starts (DOTNET_EnableWriteXorExecute=0,
# inherited through Wine): with it on, that PowerShell died under Wine 8.0 with "Internal CLR error.
# (0x80131506)" in DynamicResolver+DestroyScout.Finalize (docs/agent-windows.md has the counts).
# A real Windows does not need it; Wine's handling of .NET's double-mapped code pages does.
#
# Run by build.ps1 Test's row "Windows guest under Wine (Pester)", which publishes the agent and
# this PowerShell and sets QEMUGUEST_WINE_AGENT and QEMUGUEST_WINE_PWSH; without them every test
# fails with the reason.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $env:QEMUGUEST_REPO_ROOT 'tests/pester/AgentHelpers.ps1')

    if (-not $env:QEMUGUEST_WINE_AGENT) { throw 'QEMUGUEST_WINE_AGENT is not set: run through build.ps1 Test (row "Windows guest under Wine"), which publishes the win-x64 agent' }
    if (-not $env:QEMUGUEST_WINE_PWSH -or -not (Test-Path $env:QEMUGUEST_WINE_PWSH)) { throw "QEMUGUEST_WINE_PWSH ('$env:QEMUGUEST_WINE_PWSH') is not the published pwsh.exe: run through build.ps1 Test, which publishes tests/QemuGuest.WinePwsh" }
    $script:GuestPwsh = 'Z:' + $env:QEMUGUEST_WINE_PWSH.Replace('/', '\')

    $saved = $env:DOTNET_EnableWriteXorExecute
    $env:DOTNET_EnableWriteXorExecute = '0'
    try { $script:Agent, $script:S = Start-AgentSession -Kind Wine -Name 'wine-psdirect' -ConnectTimeoutSec 120 }
    finally { $env:DOTNET_EnableWriteXorExecute = $saved }
    # A cold .NET start under Wine and CI load: the default 120 s is too close.
    $script:Open = @{ Session = $S; PowerShellPath = $GuestPwsh; OpenTimeoutSec = 600; ErrorAction = 'Stop' }
    $script:P = New-VMGuestPSSession @Open
}

AfterAll {
    Get-PSSession | Remove-PSSession
    Stop-AgentSession $Agent -AllSessions
}

Describe 'PowerShell Direct into a Windows guest under Wine' {
    It 'Invoke-Command returns deserialised objects from a Windows PowerShell, checked by type and value' {
        $r = Invoke-Command -Session $P {
            [pscustomobject]@{
                IsWindows = $IsWindows; Edition = $PSVersionTable.PSEdition; Version = $PSVersionTable.PSVersion.ToString()
                Pid = $PID; Home = $PSHOME; Sum = (1..2000 | Measure-Object -Sum).Sum; When = [datetime]::new(2026, 12, 7, 1, 2, 3, [DateTimeKind]::Utc)
                Sys = (Get-Item C:\windows\system32\kernel32.dll).Name
            }
        }
        $r.IsWindows | Should -BeTrue
        $r.IsWindows | Should -BeOfType [bool]
        $r.Edition | Should -Be 'Core'
        $r.Version | Should -Be '7.6.10'
        $r.Home | Should -BeLike 'Z:\*'
        $r.Sum | Should -Be 2001000
        $r.When | Should -BeOfType [datetime]
        $r.When.ToUniversalTime() | Should -Be ([datetime]::new(2026, 12, 7, 1, 2, 3, [DateTimeKind]::Utc))
        $r.Sys | Should -Be 'kernel32.dll'
        $r.pstypenames | Should -Contain 'Deserialized.System.Management.Automation.PSCustomObject'
        $r.PSComputerName | Should -Be 'wine-psdirect'
    }

    It '-ArgumentList and state between calls in the same guest process' {
        $first = Invoke-Command -Session $P -ArgumentList 'C:\a b', 7 { param($path, $n) $script:kept = $n; [pscustomobject]@{ Leaf = Split-Path $path -Leaf; Pid = $PID } }
        $first.Leaf | Should -Be 'a b'
        Invoke-Command -Session $P { $script:kept * 6; $PID } | Should -Be @(42, $first.Pid)
    }

    It 'Write-Error arrives as an ErrorRecord with its message and ErrorId; the pipeline goes on' {
        $out = Invoke-Command -Session $P { Write-Error 'wine guest error' -ErrorId WineGuestErr; 'after' } -ErrorAction SilentlyContinue -ErrorVariable errs
        $out | Should -Be 'after'
        $errs.Count | Should -Be 1
        $errs[0] | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $errs[0].Exception.Message | Should -Be 'wine guest error'
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'WineGuestErr*'
    }

    It 'a guest PowerShell killed in the guest (taskkill /F) breaks the session with an error naming its end' {
        $p2 = New-VMGuestPSSession @Open
        $remotePid = Invoke-Command -Session $p2 { $PID }
        $k = Invoke-VMGuestCommand -Session $S -FilePath taskkill.exe -ArgumentList '/F', '/PID', $remotePid -ErrorAction Stop
        $k.ExitCode | Should -Be 0 -Because "taskkill said: $($k.StdOut) $($k.StdErr)"
        Wait-Until { $p2.State -eq 'Broken' } 120 | Should -BeTrue -Because 'the session must notice that its server died'
        $p2.Runspace.RunspaceStateInfo.Reason.Message | Should -BeLike "*pwsh.exe (pid $remotePid) in wine-psdirect exited with code *"
        { Invoke-Command -Session $p2 { 1 } -ErrorAction Stop } | Should -Throw '*session state is Broken*'
        $p2 | Remove-PSSession
    }
}
