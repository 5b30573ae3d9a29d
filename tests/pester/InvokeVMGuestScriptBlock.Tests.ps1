# Invoke-VMGuestScriptBlock (issue 20): PowerShell Direct one shot, fanned out over guests.
# Real processes only: two of our agents on loopback sockets behind the real relay (the "guests"
# are this machine), each starting a real `pwsh -s` (this repository's pwsh, through a launcher);
# Debian's qemu-ga as a third VM that cannot do it.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')

    $script:GuestPwsh = New-GuestPwshLauncher -Prefix 'qg-psfan-'
    $script:GuestDir = Split-Path $GuestPwsh -Parent
    $PSDefaultParameterValues['Invoke-VMGuestScriptBlock:PowerShellPath'] = $GuestPwsh

    $script:AgentA = Start-LocalAgent -Kind Ours
    $script:AgentB = Start-LocalAgent -Kind Ours
    $script:Stock = Start-LocalAgent -Kind Stock
    $script:Relay = Start-LocalRelay -Vms ([ordered]@{ 'psfan-a' = $AgentA; 'psfan-b' = $AgentB; 'psfan-stock' = $Stock })
    $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
    $env:QEMUGUEST_RELAY_DIR = $Relay.RuntimeDirectory
}

AfterAll {
    $PSDefaultParameterValues.Remove('Invoke-VMGuestScriptBlock:PowerShellPath')
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $env:QEMUGUEST_RELAY_DIR = $script:SavedRelayDir
    $script:Relay | Stop-LocalRelay
    $script:AgentA, $script:AgentB, $script:Stock | Stop-LocalAgent
    Remove-Item -Recurse -Force $script:GuestDir -ErrorAction SilentlyContinue
}

Describe 'Invoke-VMGuestScriptBlock' {
    It 'runs the script block in each guest, returns objects tagged with the VM, and leaves no PowerShell behind' {
        $r = @(Invoke-VMGuestScriptBlock -VMName psfan-a, psfan-b { [pscustomobject]@{ Pid = $PID; Parent = (Get-Content "/proc/$PID/stat" -Raw).Split(' ')[3]; When = [datetime]'2024-01-02T03:04:05Z' } } -ErrorAction Stop)
        $r.Count | Should -Be 2
        @($r.VMName | Sort-Object) | Should -Be @('psfan-a', 'psfan-b')
        @($r.PSComputerName | Sort-Object) | Should -Be @('psfan-a', 'psfan-b')
        foreach ($o in $r) {
            $o.PSObject.TypeNames | Should -Contain 'Deserialized.System.Management.Automation.PSCustomObject'
            $o.When | Should -BeOfType ([datetime])
            $o.Pid | Should -Not -Be $PID
            # Each guest's PowerShell was started by that VM's agent.
            $agent = if ($o.VMName -eq 'psfan-a') { $AgentA } else { $AgentB }
            [int]$o.Parent | Should -Be $agent.Process.Id
        }
        # Bounded but generous: under heavy load the guest pwsh's end (closed input, then the
        # process group killed, then reaped by the agent) once took longer than 60 s.
        foreach ($o in $r) {
            Wait-ProcessGone -Id $o.Pid -What "the guest pwsh of $($o.VMName) after the command"
        }
    }

    It 'passes -ArgumentList and $using: values (a variable, a member, an index)' {
        $word = 'guest'
        $table = @{ Key = 'from-table' }
        $list = 'zero', 'one'
        $r = Invoke-VMGuestScriptBlock -VMName psfan-a -ArgumentList 6, 7 -ErrorAction Stop {
            param($a, $b)
            "$($a * $b) $using:word $($using:table.Key) $($using:list[1]) $(${using:word}.Length)"
        }
        $r | Should -BeExactly '42 guest from-table one 5'
        $r.VMName | Should -Be 'psfan-a'
    }

    It 'stops with UsingVariableUndefined, naming it, for a $using: variable that does not exist here' {
        $err = $null
        try { Invoke-VMGuestScriptBlock -VMName psfan-a { $using:qgNoSuchVariable } -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'UsingVariableUndefined*'
        $err.Exception.Message | Should -BeLike '*qgNoSuchVariable*'
    }

    It 'reports a failing VM as an error record with its VMName and carries on with the others' {
        $out = Invoke-VMGuestScriptBlock -VMName psfan-a, psfan-stock, psfan-b { 'ran' } -ErrorVariable ev -ErrorAction SilentlyContinue
        @($out).Count | Should -Be 2
        @($out.VMName | Sort-Object) | Should -Be @('psfan-a', 'psfan-b')
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable*'
        $ev[0].VMName | Should -Be 'psfan-stock'
        $ev[0].Exception.Message | Should -BeLike '*__com.qemuguest_guest-exec-write*'
    }

    It 'surfaces the guest''s errors with the VMName, a terminating one for that VM only' {
        $out = Invoke-VMGuestScriptBlock -VMName psfan-a, psfan-b {
            Write-Error 'soft error' -ErrorId SoftOne
            if ((Get-Content "/proc/$PID/stat" -Raw).Split(' ')[3] -eq $args[0]) { throw 'hard error in one guest' }
            'after'
        } -ArgumentList "$($AgentA.Process.Id)" -ErrorVariable ev -ErrorAction SilentlyContinue
        $out | Should -BeExactly 'after'
        $out.VMName | Should -Be 'psfan-b'
        $ev.Count | Should -Be 3
        @($ev | Where-Object { $_.FullyQualifiedErrorId -like 'SoftOne*' } | ForEach-Object VMName | Sort-Object) | Should -Be @('psfan-a', 'psfan-b')
        $hard = @($ev | Where-Object { $_.Exception.Message -like '*hard error in one guest*' })
        $hard.Count | Should -Be 1
        $hard[0].VMName | Should -Be 'psfan-a'
    }

    It 'surfaces warning, verbose, information and progress records, once each' {
        # In a runspace of its own, with a host that records what it is asked to show: each
        # record reaches the caller once, as a record (not also through the host).
        $null = Invoke-VMGuestScriptBlock -VMName psfan-a { Write-Warning 'w1'; 'x' } -WarningVariable wv -WarningAction SilentlyContinue -ErrorAction Stop
        $wv[0].Message | Should -BeExactly 'w1'
        $wv.Count | Should -Be 1
        $info = @(Invoke-VMGuestScriptBlock -VMName psfan-a { Write-Host 'hello-host'; Write-Information 'info1' } -ErrorAction Stop 6>&1)
        @($info.MessageData | ForEach-Object { "$_" }) | Should -Be @('hello-host', 'info1')
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddCommand('Invoke-VMGuestScriptBlock').AddParameter('VMName', 'psfan-a').AddParameter('Verbose', $true).AddParameter('PowerShellPath', $GuestPwsh).AddParameter('ScriptBlock', {
                    $ProgressPreference = 'Continue'
                    Write-Progress -Activity 'guest work' -Status 'half' -PercentComplete 50
                    Write-Verbose 'v2' -Verbose
                    'done'
                })
            $ps.Invoke() | Should -BeExactly 'done'
            $ps.Streams.Error | Should -BeNullOrEmpty
            @($ps.Streams.Progress | Where-Object Activity -EQ 'guest work').Count | Should -BeGreaterThan 0
            @($ps.Streams.Verbose | Where-Object Message -EQ 'v2').Count | Should -Be 1
        }
        finally { $ps.Dispose() }
    }

    It 'works on -ThrottleLimit guests at a time' {
        # Each run marks itself in a shared folder (both "guests" are this machine) and looks
        # for the other's mark: with one at a time, no run may ever see another.
        $marks = Join-Path $GuestDir 'marks'
        $null = New-Item -ItemType Directory -Path $marks -Force
        $r = Invoke-VMGuestScriptBlock -VMName psfan-a, psfan-b -ThrottleLimit 1 -ErrorAction Stop {
            $mine = Join-Path $using:marks $PID
            $null = New-Item -ItemType File -Path $mine
            Start-Sleep -Seconds 2
            $others = @(Get-ChildItem $using:marks | Where-Object Name -NE "$PID").Count
            Remove-Item $mine
            $others
        }
        @($r).Count | Should -Be 2
        $r | Should -Be @(0, 0)
    }

    It 'takes -Session (a QemuGuest session) as well' {
        $s = New-VMGuestSession -VMName psfan-b
        try {
            $r = Invoke-VMGuestScriptBlock -Session $s { 1 + 1 } -ErrorAction Stop
            $r | Should -Be 2
            $r.VMName | Should -Be 'psfan-b'
        }
        finally { $s | Remove-VMGuestSession -Confirm:$false }
    }
}
