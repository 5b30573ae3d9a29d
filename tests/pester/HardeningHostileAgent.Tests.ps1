# The cmdlets against the hostile agent program (tests/QemuGuest.HostileAgent, a separate
# process, one mode per hostile behaviour): each call ends within its -TimeoutSec with a named
# error, a copy from a lying agent never leaves a local file presented as complete, this pwsh's
# memory stays bounded, and the same session works once the agent behaves.

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:HostileDll = Join-Path $env:QEMUGUEST_REPO_ROOT 'tests/QemuGuest.HostileAgent/bin/Release/net10.0/QemuGuest.HostileAgent.dll'
    if (-not (Test-Path $HostileDll)) { throw "the hostile agent is not built: $HostileDll (dotnet build tests/QemuGuest.HostileAgent -c Release)" }
    $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-hostile-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $T
    $script:ModeFile = Join-Path $T 'mode'
    Set-Content -Path $ModeFile -Value 'normal'
    $script:Socket = Join-Path $T 'hostile.sock'
    $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($HostileDll, '--socket', $Socket, '--mode', 'normal', '--mode-file', $ModeFile)) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
    $script:Hostile = [Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    while (-not (Test-Path $Socket) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
    if (-not (Test-Path $Socket)) { throw 'the hostile agent did not start' }
    $script:S = New-VMGuestSession -ConnectionString "unix:$Socket" -Name hostile -ConnectTimeoutSec 5

    function Set-Mode([string] $Mode) { Set-Content -Path $ModeFile -Value $Mode }
    function Get-PeakWorkingSetMB { [Diagnostics.Process]::GetCurrentProcess().Refresh(); [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64 / 1MB }
}

AfterAll {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    if ($script:Hostile -and -not $Hostile.HasExited) { $Hostile.Kill(); $null = $Hostile.WaitForExit(10000) }
    Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
}

Describe 'Cmdlets against the hostile agent program' {
    It 'mode <Mode>: a named error within the timeout, then the session works again' -ForEach @(
        @{ Mode = 'garbage' }, @{ Mode = 'truncated' }, @{ Mode = 'huge' }, @{ Mode = 'deep' }, @{ Mode = 'invalid-utf8' },
        @{ Mode = 'other-id' }, @{ Mode = 'wrong-type' }, @{ Mode = 'stall' }
    ) {
        Set-Mode $Mode
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $r = Get-VMGuestHostName -Session $S -TimeoutSec 3 -ErrorVariable err -ErrorAction SilentlyContinue
        $clock.Stop()
        $r | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Not -BeNullOrEmpty
        $err[0].Exception.Message | Should -Not -BeNullOrEmpty
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
        Write-Host "    $Mode -> $($err[0].FullyQualifiedErrorId.Split(',')[0]): $($err[0].Exception.Message) ($([int]$clock.Elapsed.TotalMilliseconds) ms)"

        Set-Mode 'normal'
        $ok = $null
        foreach ($try in 1..2) {
            # After a stall the old connection may need one failed sync before a fresh one.
            $ok = Get-VMGuestHostName -Session $S -TimeoutSec 5 -ErrorAction SilentlyContinue
            if ($ok) { break }
        }
        $ok.HostName | Should -Be 'fake'
    }

    It 'unsolicited replies never reach a cmdlet' {
        Set-Mode 'unsolicited'
        foreach ($i in 1..50) { (Get-VMGuestHostName -Session $S -TimeoutSec 5).HostName | Should -Be 'fake' }
        Set-Mode 'normal'
    }

    It 'base64 that is not base64: the copy fails with a named error and leaves no local file' {
        Set-Mode 'bad-base64'
        Copy-VMGuestFile -Session $S -GuestToLocal -Source /hostile/file -Destination "$T/bad.bin" -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].Exception.Message | Should -Match 'base64'
        "$T/bad.bin" | Should -Not -Exist
        Get-ChildItem $T -Filter '*.qgtmp-*' | Should -BeNullOrEmpty
        Set-Mode 'normal'
    }

    It 'a file that never reaches eof streams in bounded memory and, stopped, leaves no local file' {
        Set-Mode 'endless-read'
        $before = Get-PeakWorkingSetMB
        $ps = [powershell]::Create()
        $null = $ps.AddScript({ param($m, $s, $dst) Import-Module $m; Copy-VMGuestFile -Session $s -GuestToLocal -Source /hostile/endless -Destination $dst -TimeoutSec 5 }).AddArgument($env:QEMUGUEST_MODULE_PATH).AddArgument($S).AddArgument("$T/endless.bin")
        $async = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-ChildItem $T -Filter 'endless.bin.qgtmp-*' | Where-Object Length -GT 64MB) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $streamed = (Get-ChildItem $T -Filter 'endless.bin.qgtmp-*' | Measure-Object Length -Sum).Sum
        $ps.Stop()
        $ps.Dispose()
        $growth = (Get-PeakWorkingSetMB) - $before
        Write-Host "    endless-read: $([int]($streamed / 1MB)) MiB streamed before Stop, peak working set +$([int]$growth) MB"
        $streamed | Should -BeGreaterThan 64MB
        $growth | Should -BeLessThan 300
        "$T/endless.bin" | Should -Not -Exist
        Get-ChildItem $T -Filter '*.qgtmp-*' | Should -BeNullOrEmpty
        Set-Mode 'normal'
        (Get-VMGuestHostName -Session $S -TimeoutSec 5).HostName | Should -Be 'fake'
    }
}
